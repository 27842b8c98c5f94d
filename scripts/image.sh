#!/usr/bin/env bash
# Builds Zerocell's container image from docker/Dockerfile with podman (docker where podman is
# missing) and tags it zerocell:<version> and zerocell:<version>-<commit>. The image reference is
# the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/image.sh [--prebuilt[=BUILD_DIR]] [--base=IMAGE|mmdebstrap] [--refresh-base]
                        [--name=NAME]

  --prebuilt[=DIR]   make the runtime stage from the binaries already built in DIR (default:
                     build) instead of compiling in the image's build stage
  --base=IMAGE       the Debian 12 base image. Default: debian:bookworm-slim when present or
                     pullable, else a local minbase made with mmdebstrap
  --base=mmdebstrap  do not try a registry: use (or make) the local mmdebstrap base, kept as
                     localhost/zerocell-base:bookworm between runs on this machine
  --refresh-base     make the local mmdebstrap base again (e.g. for Debian security updates)
  --name=NAME        image name (default: zerocell)
Environment: ZEROCELL_CONTAINER_ENGINE=podman|docker picks the engine.
USAGE
}

prebuilt=""
base=""
refresh_base=0
name=zerocell
for arg in "$@"; do
  case $arg in
    --prebuilt) prebuilt=build ;;
    --prebuilt=*) prebuilt=${arg#--prebuilt=} ;;
    --base=*) base=${arg#--base=} ;;
    --refresh-base) refresh_base=1 ;;
    --name=*) name=${arg#--name=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "image.sh: unknown argument $arg" >&2; usage >&2; exit 2 ;;
  esac
done

source scripts/container_env.sh
engine=$ZEROCELL_CONTAINER_ENGINE
if [[ -z $engine ]]; then
  echo "image.sh: needs podman (apt-get install podman runc) or a working docker" >&2
  exit 1
fi
log() { echo "image.sh: $*" >&2; }
image_exists() {
  if [[ $engine == podman ]]; then podman image exists "$1"; else docker image inspect "$1" >/dev/null 2>&1; fi
}

local_base=localhost/zerocell-base:bookworm
# A Debian 12 minbase made as debian:bookworm-slim is: merged /usr by directory symlinks as
# debootstrap makes it (mmdebstrap's merged-usr hook; the alternative, the usrmerge package, pulls
# in perl: +40 MB), no docs but copyrights, no man pages, no locales. Imported as an image;
# takes ~3 minutes and is kept in the engine's storage.
make_local_base() (
  if ! command -v mmdebstrap >/dev/null; then
    log "no registry base and no mmdebstrap: apt-get install mmdebstrap (or pass --base=IMAGE)"
    exit 1
  fi
  tar=$(mktemp --suffix=.tar)
  trap 'rm -f "$tar"' EXIT
  log "making $local_base with mmdebstrap --variant=minbase bookworm (about 3 minutes)"
  mmdebstrap --variant=minbase --quiet \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --aptopt='APT::Install-Recommends "false"' \
    bookworm "$tar"
  "$engine" import --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.zerocell.base=mmdebstrap-minbase-bookworm" "$tar" "$local_base" >/dev/null
)

if [[ $base == mmdebstrap ]]; then
  if ((refresh_base)) || ! image_exists "$local_base"; then make_local_base; fi
  base=$local_base
elif [[ -z $base ]]; then
  base=docker.io/library/debian:bookworm-slim
  if ! image_exists "$base"; then
    if ! timeout 120 "$engine" pull -q "$base" >/dev/null 2>&1; then
      log "cannot pull $base: using the local mmdebstrap base"
      if ((refresh_base)) || ! image_exists "$local_base"; then make_local_base; fi
      base=$local_base
    fi
  fi
fi

version=$(sed -nE 's/^project\(zerocell VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
commit=$(git rev-parse HEAD 2>/dev/null || echo "${ZEROCELL_GIT_COMMIT:-unknown}")
source_url=$(git remote get-url origin 2>/dev/null || true)
context=.
binaries=source
staging=""
cleanup() { [[ -n $staging ]] && rm -rf "$staging"; }
trap cleanup EXIT
if [[ -n $prebuilt ]]; then
  # A small context of stripped copies: the runtime stage needs no build tree.
  for f in bin/zerocelld bin/zerocell bin/zerocell-loader examples/hello; do
    [[ -x $prebuilt/$f ]] || { log "--prebuilt: $prebuilt/$f is missing (bash scripts/build.sh)"; exit 1; }
  done
  info=$("$prebuilt/bin/zerocell" version --json)
  version=$(sed -nE 's/.*"version":"([^"]+)".*/\1/p' <<<"$info")
  commit=$(sed -nE 's/.*"commit":"([^"]+)".*/\1/p' <<<"$info")
  staging=$(mktemp -d)
  install -d "$staging/prebuilt/usr/bin" "$staging/prebuilt/usr/share/zerocell/examples"
  for b in zerocelld zerocell zerocell-loader; do
    strip --strip-debug -o "$staging/prebuilt/usr/bin/$b" "$prebuilt/bin/$b"
    chmod 0755 "$staging/prebuilt/usr/bin/$b"
  done
  install -m 0755 "$prebuilt/examples/hello" "$staging/prebuilt/usr/share/zerocell/examples/hello"
  context=$staging
  binaries=prebuilt
fi
short=${commit:0:12}
log "$engine build BINARIES=$binaries (base $base, version $version, commit $short)"
"$engine" build -f docker/Dockerfile --build-arg "BINARIES=$binaries" \
  --build-arg "BASE=$base" --build-arg "VERSION=$version" --build-arg "REVISION=$commit" \
  --build-arg "ZEROCELL_GIT_COMMIT=$commit" --build-arg "SOURCE=$source_url" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$name:$version" -t "$name:$version-$short" "$context" >&2
size=$("$engine" image inspect --format '{{.Size}}' "$name:$version")
log "$name:$version: $((size / 1000000)) MB"
echo "$name:$version"
