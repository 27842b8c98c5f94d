#!/usr/bin/env bash
# The main job: install what is missing, build, and run real programs through Zerocell.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

zerocell=build/bin/zerocell
examples=build/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; }
run() {  # prints the command, runs it, shows its exit status without stopping the script
  step "$@"
  set +e
  "${@:2}"
  local rc=$?
  set -e
  echo "[exit status $rc]"
}

printf 'pear\napple\nfig\napple\nbanana\n' >"$work/fruit.txt"

run "a static musl program" "$zerocell" run "$examples/hello" one two
run "busybox sort on channel data" "$zerocell" run --stdin="$work/fruit.txt" /bin/busybox sort
run "busybox sha256sum (compare: sha256sum of the file on the host)" \
  "$zerocell" run --stdin="$work/fruit.txt" /bin/busybox sha256sum
sha256sum "$work/fruit.txt"
run "busybox awk and wc" "$zerocell" run --stdin="$work/fruit.txt" /bin/busybox awk \
  '{n[$1]++} END {for (k in n) print k, n[k]}'
run "busybox gzip -c, decompressed again on the host" bash -c \
  "'$zerocell' run --stdin='$work/fruit.txt' /bin/busybox gzip -c | gunzip"
run "what a guest sees: virtual clock, seeded random, fixed pid and addresses (run 1)" \
  "$zerocell" run "$examples/world_view"
run "... run 2: byte-identical" bash -c \
  "diff <('$zerocell' run '$examples/world_view') <('$zerocell' run '$examples/world_view') && echo identical"
run "a different seed and clock change what the guest sees" \
  "$zerocell" run --seed=7 --clock=1700000000 "$examples/world_view"
run "a forbidden syscall is a POLICY_VIOLATION (exit 159)" "$zerocell" run "$examples/escape"
run "an endless loop meets the wall-clock timeout (exit 124)" \
  "$zerocell" run --timeout=0.3 /bin/busybox sh -c 'while :; do :; done'
run "the full result as JSON (ExecuteResponse in the proto JSON mapping), stdout with an etag" \
  "$zerocell" run --json --stdin="$work/fruit.txt" --channel=/dev/stdout=,puts=100,put_size=65536,etag /bin/busybox wc -l
sed "s|@DATA@|$work|g" examples/wordcount.manifest.in >"$work/wordcount.manifest"
cp "$work/fruit.txt" "$work/input.txt"
run "a classic ZeroVM manifest, with its report" \
  "$zerocell" manifest --report "$work/wordcount.manifest" wc
step "the manifest's output channel was written back to the host" cat "$work/wc.out"
cat "$work/wc.out"
