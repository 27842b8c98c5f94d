#!/usr/bin/env bash
# The test command: install what is missing, check formatting, build, run every test, then fuzz
# each fuzz target briefly and run the sanitizer suites (scripts/sanitize.sh ci): every gtest
# under ASan+UBSan, then the pools, image cache, engine threads and the server end to end under
# TSan. FUZZ_SECONDS sets the fuzzing time per target (default 10).
# CONTRIBUTING.md says what runs where, why, and what it costs.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache (installed by setup.sh) keyed on paths relative to the clone, so that a fresh clone on
# the same machine reuses what an earlier one compiled; the results are the same without it.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
# The TSan ignorelist is passed by absolute path, which BASEDIR does not rewrite inside an option:
# left out of the hash (its content's hash is a define, cmake/Hardening.cmake), or every clone
# would compile the TSan build anew.
export CCACHE_IGNOREOPTIONS='-fsanitize-ignorelist=*'
bash scripts/setup.sh
bash scripts/lint.sh --all
# The Node.js client's dependencies, as locked (client_node_test needs them).
(cd client/node && npm ci --no-audit --no-fund --loglevel=error)
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash scripts/fuzz.sh
bash scripts/sanitize.sh ci
