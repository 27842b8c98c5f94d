#!/usr/bin/python3
"""Zerocell in a container against Zerocell on the host, in one run (figures for deployment).

    /usr/bin/python3 bench/container_bench.py [--image=zerocell-test:0.1.0] [--starts=5]
        [--seccomp=docker/seccomp/moby-default.json|unconfined] [--duration=3s] [--rounds=2]
        [--starts_only] [--json]

- start to ready: `podman run` (uid 10001, --cap-drop=ALL, --read-only, no-new-privileges, the
  seccomp profile given) until zerocelld's ready file appears, against the same zerocelld binary
  started directly on the host; median and min of --starts starts each;
- hello Execute latency: build/bin/zerocell-bench --server=... (scenarios hello and grpc_floor,
  1 client) against the container and against a host zerocelld, alternately, --rounds times each.
Prints a table and, with --json, one JSON object. Host network for the container (no NAT in the
figures). Needs podman (scripts/container_env.sh) and a build with the benchmarks.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "deploy"))
from deploy_util import BUILD_DIR, MOBY_PROFILE, engine, require_engine  # noqa: E402

STRICT = ["--user", "10001:10001", "--cap-drop=ALL", "--read-only",
          "--security-opt", "no-new-privileges"]


def wait_ready(path, proc_alive, timeout=60):
    start = time.monotonic()
    while not os.path.exists(path):
        if time.monotonic() - start > timeout or not proc_alive():
            raise RuntimeError("not ready")
        time.sleep(0.002)
    with open(path) as f:
        return json.load(f)


class HostServer:
    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="zerocell-bench-host-")
        ready = os.path.join(self.dir.name, "ready.json")
        start = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(BUILD_DIR, "bin", "zerocelld"), "--listen=127.0.0.1:0",
             "--metrics_listen=127.0.0.1:0", f"--ready_file={ready}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        info = wait_ready(ready, lambda: self.proc.poll() is None)
        self.start_to_ready = time.monotonic() - start
        self.address = f"127.0.0.1:{info['grpc_port']}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.dir.cleanup()


class ContainerServer:
    def __init__(self, image, seccomp):
        self.dir = tempfile.TemporaryDirectory(prefix="zerocell-bench-ctr-")
        os.chmod(self.dir.name, 0o777)
        self.name = f"zerocell-bench-{os.getpid()}-{time.monotonic_ns()}"
        ready = os.path.join(self.dir.name, "ready.json")
        start = time.monotonic()
        engine("run", "-d", "--name", self.name, "--network=host", *STRICT,
               "--security-opt", f"seccomp={seccomp}", "-v", f"{self.dir.name}:/run/zc",
               image, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
               "--ready_file=/run/zc/ready.json")
        info = wait_ready(ready, lambda: True)
        self.start_to_ready = time.monotonic() - start
        self.address = f"127.0.0.1:{info['grpc_port']}"

    def stop(self):
        engine("stop", "-t", "20", self.name, check=False)
        engine("rm", "-f", self.name, check=False)
        self.dir.cleanup()


def bench(address, args):
    out = subprocess.run(
        [os.path.join(BUILD_DIR, "bin", "zerocell-bench"), f"--server={address}",
         "--scenarios=hello,grpc_floor", "--clients=1", f"--duration={args.duration}",
         "--rounds=1", "--json"], capture_output=True, text=True, check=True).stdout
    row = json.loads(out)["latency"]["rows"][0]["sides"]
    return {"execute": row["execute"], "grpc_floor": row["grpc_floor"], "bare": row["bare"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=None)
    parser.add_argument("--seccomp", default=MOBY_PROFILE)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--duration", default="3s")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--starts_only", action="store_true",
                        help="only start to ready (e.g. under a profile where Execute fails)")
    args = parser.parse_args()
    require_engine()
    image = args.image
    if image is None:
        with open(os.path.join(BUILD_DIR, "deploy", "image.txt")) as f:
            image = f.read().strip()

    starts = {"container": [], "host": []}
    for _ in range(args.starts):
        for kind, cls in (("host", HostServer), ("container", ContainerServer)):
            server = cls() if kind == "host" else cls(image, args.seccomp)
            starts[kind].append(server.start_to_ready * 1000)
            server.stop()

    if args.starts_only:
        for kind, v in starts.items():
            print(f"start to ready, {kind}: median {statistics.median(v):.0f} ms, "
                  f"min {min(v):.0f} ms ({len(v)} starts, seccomp {os.path.basename(args.seccomp)})")
        return
    host, container = HostServer(), ContainerServer(image, args.seccomp)
    runs = {"container": [], "host": []}
    try:
        for _ in range(args.rounds):
            runs["host"].append(bench(host.address, args))
            runs["container"].append(bench(container.address, args))
    finally:
        host.stop()
        container.stop()

    def med(kind, side, key):
        return statistics.median(r[side][key] for r in runs[kind])

    result = {"image": image, "seccomp": os.path.basename(args.seccomp),
              "cores": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3],
              "start_to_ready_ms": {k: {"median": statistics.median(v), "min": min(v)}
                                    for k, v in starts.items()},
              "hello_execute_us": {k: {q: med(k, "execute", q) for q in ("p50_us", "p99_us")}
                                   for k in runs},
              "grpc_floor_us": {k: {q: med(k, "grpc_floor", q) for q in ("p50_us", "p99_us")}
                                for k in runs},
              "bare_spawn_us": {k: {q: med(k, "bare", q) for q in ("p50_us", "p99_us")}
                                for k in runs}}
    result["ratio_container_over_host"] = {
        "start_to_ready_median": result["start_to_ready_ms"]["container"]["median"] /
        result["start_to_ready_ms"]["host"]["median"],
        "hello_p50": result["hello_execute_us"]["container"]["p50_us"] /
        result["hello_execute_us"]["host"]["p50_us"],
        "hello_p99": result["hello_execute_us"]["container"]["p99_us"] /
        result["hello_execute_us"]["host"]["p99_us"],
        "grpc_floor_p50": result["grpc_floor_us"]["container"]["p50_us"] /
        result["grpc_floor_us"]["host"]["p50_us"]}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"image {image}, seccomp {result['seccomp']}, {result['cores']} cores, "
          f"load {' '.join(result['loadavg'])}")
    print(f"{'':28}{'host':>12}{'container':>12}{'ratio':>8}")
    s = result["start_to_ready_ms"]
    print(f"{'start to ready, median ms':28}{s['host']['median']:12.0f}"
          f"{s['container']['median']:12.0f}{s['container']['median'] / s['host']['median']:8.2f}")
    for label, key in (("hello Execute", "hello_execute_us"), ("gRPC floor (GetImage)", "grpc_floor_us"),
                       ("bare spawn (client side)", "bare_spawn_us")):
        for q in ("p50_us", "p99_us"):
            h, c = result[key]["host"][q], result[key]["container"][q]
            print(f"{label + ' ' + q:28}{h:12.0f}{c:12.0f}{c / h:8.2f}")


if __name__ == "__main__":
    main()
