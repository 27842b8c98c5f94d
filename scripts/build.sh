#!/usr/bin/env bash
# Configures and builds everything into build/ (binaries in build/bin, guests in build/guests).
# Arguments are passed to the configure step (e.g. -DBUILD_TESTING=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (when installed: setup.sh installs it) only makes a rebuild of unchanged sources fast;
# the build is the same without it.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
cmake --build build -j"$(nproc)"
