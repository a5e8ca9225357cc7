# The servers' memory allocator. Every call allocates and frees its buffers
# on whichever thread gRPC runs it; glibc's malloc spends a sixth of a
# service's time on that under load (arena locks, and a consolidation pass
# whenever a block of a kilobyte or more is asked for). jemalloc (Debian's
# libjemalloc2) keeps per-thread caches: GetState served 22% more calls per
# second with it (docs/performance.md). CSTOPA_ALLOCATOR=glibc keeps
# glibc's; the sanitizer and fuzz builds always do (ASan brings its own).
set(CSTOPA_ALLOCATOR "jemalloc" CACHE STRING
    "Allocator of the server binaries: jemalloc or glibc")
set_property(CACHE CSTOPA_ALLOCATOR PROPERTY STRINGS jemalloc glibc)

set(cstopa_jemalloc "")
if(CSTOPA_ALLOCATOR STREQUAL "jemalloc" AND NOT CSTOPA_SANITIZE
   AND NOT CSTOPA_FUZZ)
  find_library(CSTOPA_JEMALLOC_LIBRARY NAMES jemalloc)
  if(NOT CSTOPA_JEMALLOC_LIBRARY)
    message(FATAL_ERROR "CSTOPA_ALLOCATOR=jemalloc but libjemalloc is missing "
                        "(scripts/install-deps.sh installs libjemalloc-dev; "
                        "or configure with -DCSTOPA_ALLOCATOR=glibc)")
  endif()
  set(cstopa_jemalloc ${CSTOPA_JEMALLOC_LIBRARY})
elseif(NOT CSTOPA_ALLOCATOR MATCHES "^(jemalloc|glibc)$")
  message(FATAL_ERROR "CSTOPA_ALLOCATOR must be jemalloc or glibc")
endif()

# Links `target` (an executable) with the chosen allocator. Kept in the
# binary's needed libraries ahead of libc, so its malloc is the one used.
function(cstopa_use_allocator target)
  if(cstopa_jemalloc)
    # --no-as-needed: nothing in the binary names jemalloc, yet it must
    # stay a needed library.
    target_link_options(${target} PRIVATE "LINKER:--no-as-needed")
    target_link_libraries(${target} PRIVATE ${cstopa_jemalloc})
  endif()
endfunction()
