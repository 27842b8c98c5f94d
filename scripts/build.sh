#!/usr/bin/env bash
# Configures and builds everything into build/ (binaries in build/bin, guests in build/guests).
# Arguments are passed to the configure step (e.g. -DBUILD_TESTING=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)"
