#!/usr/bin/env bash
# The main job: install what is missing, build, start zerocelld on localhost, run real programs
# through it with the zerocell CLI and the Python client, show metrics, stop the server cleanly.
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

# --- the service -------------------------------------------------------------------------------
step "start zerocelld on localhost (free ports, JSON logs in $work/zerocelld.log)" \
  build/bin/zerocelld --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --ready_file=...
build/bin/zerocelld --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --ready_file="$work/ready.json" 2>"$work/zerocelld.log" &
server_pid=$!
stop_server() {  # on any exit: never leave a server behind
  if kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap stop_server EXIT
for _ in $(seq 1 300); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
[ -s "$work/ready.json" ] || { echo "zerocelld did not start:"; cat "$work/zerocelld.log"; exit 1; }
port() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/ready.json" "$1"; }
export ZEROCELL_SERVER="127.0.0.1:$(port grpc_port)"
metrics_port=$(port metrics_port)
echo "serving on $ZEROCELL_SERVER, metrics on 127.0.0.1:$metrics_port"

run "register an image: its id is the sha256 of the bytes, with the admission report" \
  "$zerocell" register /bin/busybox
run "offline admission check: the deterministic policy refuses busybox's rdtsc (exit 126)" \
  "$zerocell" validate --policy=deterministic /bin/busybox
run "a static musl program, through the server" "$zerocell" run "$examples/hello" one two
run "busybox sort on channel data" "$zerocell" run --stdin="$work/fruit.txt" /bin/busybox sort
run "busybox sha256sum (compare: sha256sum of the file on the host)" \
  "$zerocell" run --stdin="$work/fruit.txt" /bin/busybox sha256sum
sha256sum "$work/fruit.txt"
run "busybox awk" "$zerocell" run --stdin="$work/fruit.txt" /bin/busybox awk \
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
step "warm start: world_view ran cold the first time; now the pool keeps sandboxes parked" \
  "zerocell run --json world_view (x3) | usage.startupNs"
for i in 1 2 3; do
  "$zerocell" run --json "$examples/world_view" | /usr/bin/python3 -c \
    'import json,sys; u=json.load(sys.stdin)["usage"]; print("startup %6.1f us, wall %7.1f us" % (int(u.get("startupNs", 0))/1e3, int(u.get("wallNs", 0))/1e3))'
done
run "256 MB streamed through a guest and back (the CLI's stdin is the guest's; ExecuteStream with 1 MiB windows: bounded memory on both sides); compare the host's sha256sum" \
  bash -c "yes | head -c 256000000 | '$zerocell' run /bin/busybox cat | sha256sum; yes | head -c 256000000 | sha256sum"
cat >"$work/runs.jsonl" <<'EOF'
{"argv": ["sort"], "stdin": "pear\napple\n"}
{"argv": ["wc", "-c"], "stdin": "four"}
{"argv": ["false"]}
{"timeoutMs": "-1"}
EOF
cat >"$work/show_batch.py" <<'EOF'
import base64, json, sys
for line in sys.stdin:  # one ExecuteBatchResult per line, in completion order
    r = json.loads(line)
    if r.get("response"):
        resp = r["response"]
        out = base64.b64decode(resp["channels"][1]["output"]).decode()
        print(r["index"], resp["outcome"], resp["exitCode"], repr(out))
    else:
        print(r["index"], "error", r["errorCode"], r["errorMessage"])
EOF
run "a batch: one ExecuteBatch call for every line of runs.jsonl, one result per run as it completes" \
  bash -c "'$zerocell' batch /bin/busybox <'$work/runs.jsonl' | /usr/bin/python3 '$work/show_batch.py'"
run "a request over a server cap is refused, the field and the flag named (exit 2)" \
  "$zerocell" run --timeout=120 "$examples/hello"
run "the same program in local mode (no server): the same output" \
  env -u ZEROCELL_SERVER "$zerocell" run "$examples/hello" one two

# --- file trees: Debian's python3 and busybox as read-only trees (ZRT's successor) -------------
bash scripts/make-tree.sh python3 "$work/python3.tar"
bash scripts/make-tree.sh busybox "$work/busybox.tar"
run "Debian's dynamically linked python3 from a tree: its ld.so, libc and stdlib come from the tar (the CLI registers it on the server once, then runs /usr/bin/python3 by path)" \
  bash -c "printf 'pear apple fig\n' | '$zerocell' run --tree='$work/python3.tar' /usr/bin/python3 -c 'import json,sys; print(json.dumps(sorted(sys.stdin.read().split())))'"
mkdir -p "$work/app"
cat >"$work/app/main.py" <<'PY'
import random, sys
words = sys.stdin.read().split() + open("/dev/extra").read().split()
print(" ".join(sorted(words)), "| hash:", hash("zerocell"), "| random:", random.random())
PY
tar -C "$work/app" -cf "$work/app.tar" main.py
printf 'kiwi banana\n' >"$work/extra.txt"
run "a script in a tree of its own (/app) reads stdin and a named channel; the same seed gives the same hash() and random() (twice)" \
  bash -c "for i in 1 2; do echo 'pear apple' | '$zerocell' run --seed=7 --tree='$work/python3.tar' --tree='$work/app.tar:/app' --channel=/dev/extra='$work/extra.txt' /usr/bin/python3 /app/main.py; done"

mkdir -p "$work/data"
printf 'north 120\nsouth 80\nnorth 40\neast 200\nsouth 20\n' >"$work/data/sales.txt"
cat >"$work/data/report.sh" <<'SH'
# Totals per region with shell builtins (one process: no applets, no pipes).
north=0 south=0 east=0
while read region amount; do eval "$region=\$((\$$region + amount))"; done < /data/sales.txt
for r in east north south; do eval "echo \"\$$r $r\""; done > /tmp/totals.txt
while read line; do echo "total $line"; done < /tmp/totals.txt
SH
cat >"$work/data/report.awk" <<'AWK'
{ total[$1] += $2 }
END { for (r in total) print total[r], r > "/tmp/totals.txt"; close("/tmp/totals.txt")
      while ((getline line < "/tmp/totals.txt") > 0) print "awk:", line }
AWK
cat >"$work/data/pipeline.sh" <<'SH'
# sort and awk run in forked children (--processes), the steps joined through the /tmp scratch.
sort -k2 -n /data/sales.txt > /tmp/sorted.txt
awk '{ t[$1] += $2 } END { for (r in t) print t[r], r }' /tmp/sorted.txt > /tmp/totals.txt
sort -n /tmp/totals.txt > /tmp/report.txt
head -n 100 /tmp/report.txt
SH
tar -C "$work/data" -cf "$work/data.tar" sales.txt report.sh report.awk pipeline.sh
run "busybox from a tree: a sh script and an awk program over a data tree at /data, each writing the /tmp scratch then stdout; sort over the same file" \
  bash -c "'$zerocell' run --tree='$work/busybox.tar' --tree='$work/data.tar:/data' /bin/sh /data/report.sh && '$zerocell' run --json --tree='$work/busybox.tar' --tree='$work/data.tar:/data' /bin/awk -f /data/report.awk /data/sales.txt | /usr/bin/python3 -c 'import base64,json,sys; r=json.load(sys.stdin); print(base64.b64decode(r[\"channels\"][1][\"output\"]).decode(), end=\"\"); print(\"scratch:\", r[\"scratch\"])' && '$zerocell' run --tree='$work/busybox.tar' --tree='$work/data.tar:/data' /bin/sort -k2 -n /data/sales.txt"
run "busybox sh running sort and awk in forked children (--processes=4; with one process: 'can't fork')" \
  bash -c "'$zerocell' run --processes=4 --tree='$work/busybox.tar' --tree='$work/data.tar:/data' /bin/sh /data/pipeline.sh"

step "the Python client (python3-grpcio, stubs generated by the build)" \
  /usr/bin/python3 examples/python/run_examples.py
PYTHONPATH=build/python:examples/python /usr/bin/python3 examples/python/run_examples.py \
  --server="$ZEROCELL_SERVER" --examples="$examples"

step "a metrics excerpt" "GET http://127.0.0.1:$metrics_port/metrics | grep ..."
/usr/bin/python3 - "$metrics_port" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
keep = ("zerocell_executions_total", "zerocell_execute_duration_seconds_count",
        "zerocell_execute_duration_seconds_sum", "zerocell_policy_violations_total",
        "zerocell_quota_exceeded_total", "zerocell_image_cache_", "zerocell_requests_total",
        "zerocell_rejected_requests_total", "zerocell_pool_starts_total", "zerocell_pool_parked")
for line in text.splitlines():
    if line.startswith(keep) and not line.rstrip().endswith(" 0"):
        print(line)
PY

step "stop the server: SIGTERM drains it (exit 0), and its last log lines" "kill -TERM $server_pid"
kill -TERM "$server_pid"
set +e
wait "$server_pid"
rc=$?
set -e
echo "[zerocelld exit status $rc]"
tail -n 3 "$work/zerocelld.log"
[ "$rc" -eq 0 ]
