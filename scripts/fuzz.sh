#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in build-fuzz/ (only them and
# the libraries they link) and runs each for a bounded time from its seed corpus; any crash,
# sanitizer report, leak, slow input or broken contract fails the script and leaves the input in
# build-fuzz/artifacts/.
#   scripts/fuzz.sh [--seconds=N] [--build-only] [target...]   (targets: elf validator manifest
#                                                                request supervisor; default all)
# FUZZ_SECONDS (or --seconds) sets the time per target (default 20); targets run $(nproc) at a
# time. New inputs a run finds go to build-fuzz/corpus/<target> (the seed corpus in the repository
# is only read); minimize them into tests/fuzz/corpus/<target> with -merge=1 to keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
build_only=0
targets=()
for arg in "$@"; do
  case $arg in
    --seconds=*) seconds=${arg#--seconds=} ;;
    --build-only) build_only=1 ;;
    -*) echo "fuzz.sh: unknown option $arg" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
((${#targets[@]})) || targets=(elf validator manifest request supervisor)

dir=build-fuzz
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# Warnings are the default build's business (gcc); clang may warn differently.
CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DZEROCELL_SANITIZE=address,undefined -DZEROCELL_FUZZ=ON -DZEROCELL_WERROR=OFF \
  -DZEROCELL_BUILD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
((build_only)) && exit 0

mkdir -p "$dir/artifacts" "$dir/logs"
# One target: fuzz for $seconds from the seed corpus. -timeout: an input taking 25 s is a hang
# (a getrandom of 32 MiB takes seconds under ASan on a busy host: issue 14 bounds it);
# -rss_limit_mb: a memory blowup is a finding too.
run_one() {
  local name=$1 seconds=$2 dir=$3
  mkdir -p "$dir/corpus/$name"
  if "$dir/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/$name-" \
      "$dir/corpus/$name" "tests/fuzz/corpus/$name" >"$dir/logs/$name.log" 2>&1; then
    echo "fuzz $name: ok, $(grep -Eo 'stat::number_of_executed_units: *[0-9]+' \
      "$dir/logs/$name.log" | grep -Eo '[0-9]+$') runs in ${seconds}s," \
      "corpus $(find "$dir/corpus/$name" "tests/fuzz/corpus/$name" -type f | wc -l) inputs"
  else
    echo "fuzz $name: FAILED (log $dir/logs/$name.log, input in $dir/artifacts/)"
    tail -n 60 "$dir/logs/$name.log"
    return 1
  fi
}
export -f run_one
# ASan's leak check, UBSan's stacks; a finding exits non-zero.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
printf '%s\n' "${targets[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$dir"
