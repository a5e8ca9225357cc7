# Warnings are errors in project code (generated code is compiled without
# them; see proto.cmake).
function(cstopa_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror
    -Wno-unused-parameter -Wnon-virtual-dtor -Wimplicit-fallthrough)
endfunction()
