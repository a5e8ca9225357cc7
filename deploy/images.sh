#!/usr/bin/env bash
# Builds every image of deploy/Dockerfile (the five servers and PostgreSQL),
# tagged cstopa/<target>:<tag>, with podman (or Docker where no podman is
# installed). Makes the base image debian:bookworm-slim first when the engine
# has none and no registry is wanted or reachable: from Debian's packages
# with debootstrap, once (it is kept in the engine's storage and as a tarball
# in ~/.cache/cstopa). Rebuilds reuse the layer cache and, for the C++
# build, a ccache cache mount, so a small change rebuilds in a minute or two.
#
#   deploy/images.sh                  # every target, tag "latest"
#   deploy/images.sh membership       # only these targets
#   CSTOPA_IMAGE_TAG=0.1.0 deploy/images.sh
#
# Environment:
#   CSTOPA_ENGINE      podman or docker (default: podman if installed)
#   CSTOPA_IMAGE_TAG   tag of the images (default: latest)
#   CSTOPA_BASE_IMAGE  local: make debian:bookworm-slim with debootstrap when
#                      missing (default where debootstrap is installed);
#                      pull: pull it from the registry instead
#   CONTAINERS_CONF    podman settings (default: deploy/containers.conf)
# Prints each image's size at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

all_targets=(membership legislation events monitoring gateway postgres)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
tag="${CSTOPA_IMAGE_TAG:-latest}"

engine="${CSTOPA_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then engine=podman
  elif command -v docker >/dev/null 2>&1; then engine=docker
  else
    echo "images.sh: neither podman nor docker is installed" \
         "(scripts/install-deps.sh installs podman)" >&2
    exit 1
  fi
fi
build_flags=()
if [ "$engine" = podman ]; then
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/deploy/containers.conf}"
  # apt inside the build stage uses the host's network (no proxy settings).
  build_flags+=(--network=host --layers)
fi

base=debian:bookworm-slim
base_mode="${CSTOPA_BASE_IMAGE:-}"
if [ -z "$base_mode" ]; then
  if command -v debootstrap >/dev/null 2>&1; then base_mode=local; else base_mode=pull; fi
fi

# The base image from Debian's own packages, the way the official slim image
# is made: minbase, no apt lists or caches, no documentation.
make_base() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/cstopa"
  local tarball="$cache/debian-bookworm-slim.tar"
  mkdir -p "$cache"
  if [ ! -s "$tarball" ]; then
    echo "images.sh: making $base with debootstrap (about a minute, once)"
    local rootfs
    rootfs="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$rootfs'" RETURN
    debootstrap --variant=minbase bookworm "$rootfs" \
      http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || {
      echo "images.sh: debootstrap failed; see $cache/debootstrap.log" >&2
      return 1
    }
    cat >"$rootfs/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/cstopa-slim" <<'DPKG'
# As in Debian's slim images: no documentation, manual pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
    cat >"$rootfs/etc/apt/apt.conf.d/cstopa-slim" <<'APT'
APT::Install-Recommends "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
      "$rootfs"/var/log/* "$rootfs"/usr/share/doc/*/changelog* \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    : >"$rootfs/etc/resolv.conf"
    : >"$rootfs/etc/hostname"
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
  fi
  "$engine" import --change 'CMD ["bash"]' "$tarball" "localhost/$base" >/dev/null
  "$engine" tag "localhost/$base" "docker.io/library/$base"
}

if ! "$engine" image inspect "$base" >/dev/null 2>&1; then
  if [ "$base_mode" = local ]; then
    make_base
  else
    "$engine" pull "docker.io/library/$base"
  fi
fi

# Every target is built from one snapshot of the sources (what git tracks
# plus new files it does not ignore), so that all of them share the build
# stage's cached layers even when files change meanwhile.
work="$(mktemp -d "${TMPDIR:-/tmp}/cstopa-images.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$work/src" -xf -
else
  tar --exclude=./build --exclude='./build-*' --exclude=./tools/node_modules \
    --exclude=./run --exclude=./.git -cf - . | tar -C "$work/src" -xf -
fi

for t in "${targets[@]}"; do
  start=$(date +%s)
  echo "== $engine build --target $t -t cstopa/$t:$tag"
  "$engine" build "${build_flags[@]}" -f "$work/src/deploy/Dockerfile" \
    --target "$t" -t "cstopa/$t:$tag" "$work/src" >"$work/$t.log" 2>&1 || {
    tail -n 60 "$work/$t.log" >&2
    cp "$work/$t.log" "${TMPDIR:-/tmp}/cstopa-image-$t.log"
    echo "images.sh: building $t failed (log: ${TMPDIR:-/tmp}/cstopa-image-$t.log)" >&2
    exit 1
  }
  echo "   built in $(( $(date +%s) - start )) s"
done

echo "== image sizes"
for t in "${targets[@]}"; do
  "$engine" image inspect --format '{{.Size}}' "cstopa/$t:$tag" |
    awk -v n="cstopa/$t:$tag" '{ printf "   %-28s %6.1f MB\n", n, $1 / 1e6 }'
done
