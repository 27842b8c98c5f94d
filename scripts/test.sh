#!/usr/bin/env bash
# The test command: install what is missing, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Node.js client's dependencies, as locked (client_node_test needs them).
(cd client/node && npm ci --no-audit --no-fund --loglevel=error)
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
