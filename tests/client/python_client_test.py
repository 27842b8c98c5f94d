#!/usr/bin/python3
"""End to end: examples/python/zerocell_client.py against a real zerocelld on 127.0.0.1 port 0.

Run by CTest with /usr/bin/python3 (Debian's, with grpcio), PYTHONPATH=<build>/python:
<src>/examples/python, and ZEROCELL_BIN_DIR / ZEROCELL_GUEST_DIR / ZEROCELL_EXAMPLE_DIR. The module
starts one zerocelld (--ready_file), and stops it at the end with SIGTERM, which must exit 0.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from zerocell.v1 import sandbox_pb2
from zerocell_client import (SERVICE_CONFIG, Client, RejectedImage, channel, channel_target,
                             image_id_of, outcome_name, standard_manifest)

BIN_DIR = os.environ.get("ZEROCELL_BIN_DIR", "build/bin")
GUEST_DIR = os.environ.get("ZEROCELL_GUEST_DIR", "build/guests")
EXAMPLE_DIR = os.environ.get("ZEROCELL_EXAMPLE_DIR", "build/examples")
SOURCE_DIR = os.environ.get("ZEROCELL_SOURCE_DIR", ".")


def guest(name):
    return os.path.join(GUEST_DIR, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def descendants(pid):
    """Pids of every live process below `pid` (from the ppid field of /proc/*/stat)."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = read(os.path.join("/proc", entry, "stat")).decode("utf-8", "replace")
        except OSError:
            continue  # exited while listed
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parent_of[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, ppid in parent_of.items() if ppid == parent]
        found.extend(children)
        todo.extend(children)
    return found


class Server:
    """zerocelld on 127.0.0.1:0; its address comes from the ready file."""

    def __init__(self, extra_flags=()):
        self.dir = tempfile.TemporaryDirectory(prefix="zerocell-pytest-")
        self.ready = os.path.join(self.dir.name, "ready.json")
        self.log_path = os.path.join(self.dir.name, "zerocelld.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "zerocelld"), "--listen=127.0.0.1:0", "--metrics_listen=",
             "--ready_file=" + self.ready, "--grace_period_ms=5000", *extra_flags],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("zerocelld did not become ready:\n" + self.logs())
            time.sleep(0.02)
        info = json.loads(read(self.ready))
        self.address = "127.0.0.1:%d" % info["grpc_port"]
        self.metrics_port = info["metrics_port"]  # 0 unless extra_flags turn the endpoint on
        assert info["pid"] == self.proc.pid, info

    def logs(self):
        self.log.flush()
        return read(self.log_path).decode("utf-8", "replace")

    def stop(self):
        """SIGTERM; the exit status (None if it had to be killed after 30 s)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


SERVER = None


class _FirstCallDelayed(grpc.UnaryUnaryClientInterceptor):
    """Records each call's timeout; holds the first call back `delay_s` before it starts."""

    def __init__(self, delay_s):
        self.delay_s = delay_s
        self.timeouts = []

    def intercept_unary_unary(self, continuation, call_details, request):
        self.timeouts.append(call_details.timeout)
        if len(self.timeouts) == 1:
            time.sleep(self.delay_s)
        return continuation(call_details, request)


def setUpModule():
    global SERVER, REGISTERED_CAT
    SERVER = Server(["--pool_idle_ms=300"])  # parked sandboxes retire soon after the calls
    # Registered before any test runs cat inline: an image's label comes from its first
    # registration, and an inline Execute registers it without one.
    client = Client(SERVER.address)
    REGISTERED_CAT = client.register(read(guest("cat")), name="cat")
    client.close()


def tearDownModule():
    status = SERVER.stop()
    logs = SERVER.logs()
    SERVER.kill()
    SERVER.dir.cleanup()
    if status != 0:
        raise AssertionError("zerocelld did not exit 0 on SIGTERM (status %r):\n%s" % (status, logs))


class PythonClientTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(SERVER.address)

    def tearDown(self):
        self.client.close()

    def images_by_id(self):
        return {image.image_id: image for image in self.client.list_images()}

    def test_first_execute_uploads_once_then_runs_by_id(self):
        # A program no other test uses, so that the server cannot know it yet.
        program = guest("echo_args")
        elf = read(program)
        response = self.client.execute(program, argv=["echo_args", "x y"])
        self.assertEqual(outcome_name(response), "EXITED", response)
        self.assertEqual(channel(response, "/dev/stdout").output,
                         b"argc=2\nargv[0]=echo_args\nargv[1]=x y\n")
        self.assertEqual(response.image_id, image_id_of(elf))
        self.assertEqual((self.client.executes_by_id, self.client.image_uploads), (1, 1))

        again = self.client.execute(elf, argv=["echo_args"])
        self.assertEqual(outcome_name(again), "EXITED")
        self.assertEqual((self.client.executes_by_id, self.client.image_uploads), (2, 1),
                         "the second run must go by id only")
        image = self.images_by_id()[image_id_of(elf)]
        self.assertEqual(image.executions, 2)
        self.assertEqual(image.size_bytes, len(elf))

    def test_registered_image_is_never_uploaded_by_execute(self):
        elf = read(guest("cat"))
        registered = REGISTERED_CAT
        self.assertEqual(registered.image.image_id, image_id_of(elf))
        self.assertEqual(registered.image.name, "cat")
        self.assertTrue(registered.image.validation.accepted)
        self.assertTrue(self.client.register(elf).already_registered)

        before = self.client.get_image(image_id_of(elf)).executions
        response = self.client.execute(elf, stdin=b"one\ntwo\n")
        self.assertEqual(channel(response, "/dev/stdout").output, b"one\ntwo\n")
        self.assertEqual(self.client.image_uploads, 0)
        self.assertEqual(self.client.get_image(image_id_of(elf)).executions, before + 1)

    def test_program_by_path_in_trees_registers_each_tree_once(self):
        import io
        import tarfile

        def tar_of(files):
            out = io.BytesIO()
            with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as t:
                for name, data, mode in files:
                    info = tarfile.TarInfo(name)
                    info.size, info.mode = len(data), mode
                    t.addfile(info, io.BytesIO(data))
            return out.getvalue()

        programs = tar_of([("bin/fs_probe", read(guest("fs_probe")), 0o755)])
        data = tar_of([("numbers.txt", b"3\n1\n2\n", 0o644)])
        trees = {"/": programs, "/data": data}
        response = self.client.execute_in_trees(trees, "/bin/fs_probe",
                                                argv=["fs_probe", "read", "/data/numbers.txt"])
        self.assertEqual(outcome_name(response), "EXITED", response)
        self.assertIn(b"bytes=6", channel(response, "/dev/stdout").output)
        self.assertEqual(response.image_id, image_id_of(programs))
        self.assertEqual(response.scratch.path, "/tmp")
        self.assertEqual(self.client.image_uploads, 2)
        again = self.client.execute_in_trees(
            {"/": image_id_of(programs), "/data": data}, "/bin/fs_probe",
            argv=["fs_probe", "read", "/data/numbers.txt"])
        self.assertEqual(channel(again, "/dev/stdout").output,
                         channel(response, "/dev/stdout").output)
        self.assertEqual(self.client.image_uploads, 2, "registered trees are not sent again")
        with self.assertRaises(grpc.RpcError) as missing:
            self.client.execute_in_trees({"/": programs}, "/bin/nope")
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("manifest.program_path", missing.exception.details())

        # A batch by path: the trees (registered already) mount in every run; a run may name
        # another path, and one not in the trees fails alone.
        runs = [sandbox_pb2.Manifest(argv=["fs_probe", "read", "/data/numbers.txt"]),
                sandbox_pb2.Manifest(program_path="/bin/nope")]
        results = {r.index: r for r in
                   self.client.execute_batch("/bin/fs_probe", runs, trees=trees)}
        self.assertEqual(sorted(results), [0, 1])
        self.assertIn(b"bytes=6", channel(results[0].response, "/dev/stdout").output)
        self.assertEqual(results[1].error_code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertIn("manifest.program_path", results[1].error_message)
        self.assertEqual(runs[0].program_path, "", "the caller's manifests are left as they were")
        self.assertEqual(self.client.image_uploads, 2)

    def test_execute_stream_feeds_input_and_yields_output_then_the_result(self):
        chunks = [("", b"first "), ("/dev/stdin", b"y" * (1 << 20))]  # beyond the server's window
        seen = list(self.client.execute_stream(guest("cat"), chunks, argv=["cat"]))
        outputs = b"".join(data for kind, *rest in seen if kind == "output"
                           for alias, data in [rest])
        self.assertEqual(outputs, b"first " + b"y" * (1 << 20))
        self.assertEqual(seen[-1][0], "result")
        result = seen[-1][1]
        self.assertEqual(result.outcome, sandbox_pb2.OUTCOME_EXITED)
        self.assertEqual(result.channels[1].output, b"")  # streamed, not repeated

    def test_execute_stream_end_mark_ends_one_channel_while_the_inputs_go_on(self):
        # stdin ends with its chunk's end mark; the iterable then waits until the result came.
        # Without the mark the guest would wait in read until the iterable gave up (half-close).
        result_seen = threading.Event()
        gave_up = []

        def inputs():
            yield ("", b"abc", True)
            if not result_seen.wait(30):
                gave_up.append(True)

        seen = []
        for item in self.client.execute_stream(guest("cat"), inputs(), argv=["cat"]):
            seen.append(item)
            if item[0] == "result":
                result_seen.set()
        self.assertEqual(gave_up, [])
        self.assertEqual([i[2] for i in seen if i[0] == "output"], [b"abc"])
        self.assertEqual(seen[-1][1].outcome, sandbox_pb2.OUTCOME_EXITED)

    def test_execute_batch_yields_one_result_per_run(self):
        runs = [sandbox_pb2.Manifest(argv=["exit_code", "4"]), sandbox_pb2.Manifest(timeout_ms=-1)]
        results = {r.index: r for r in self.client.execute_batch(guest("exit_code"), runs)}
        self.assertEqual(sorted(results), [0, 1])
        self.assertEqual(results[0].response.exit_code, 4)
        self.assertEqual(results[1].error_code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertIn("manifest.timeout_ms", results[1].error_message)

    def test_outcomes_are_data(self):
        exited = self.client.execute(guest("exit_code"), argv=["exit_code", "42"])
        self.assertEqual((outcome_name(exited), exited.exit_code), ("EXITED", 42))
        timed_out = self.client.execute(guest("spin"), timeout_ms=200)
        self.assertEqual(outcome_name(timed_out), "TIMEOUT", timed_out)
        violation = self.client.execute(guest("pol_socket"))
        self.assertEqual(violation.outcome, sandbox_pb2.OUTCOME_POLICY_VIOLATION)
        self.assertEqual(violation.violation.syscall, "socket")

    def test_refused_image_carries_its_validation_report(self):
        elf = read(guest("pol_int80"))
        with self.assertRaises(RejectedImage) as register:
            self.client.register(elf)
        report = register.exception.report
        self.assertFalse(report.accepted)
        self.assertGreater(len(report.rejections), 0)
        self.assertIn("int", report.rejections[0].instruction)
        self.assertIn("int", str(register.exception))

        # Execute: by id (NOT_FOUND: refused images are not cached), then inline: refused again.
        with self.assertRaises(RejectedImage) as execute:
            self.client.execute(elf)
        self.assertEqual(execute.exception.error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.client.image_uploads, 1)
        self.assertNotIn(image_id_of(elf), self.images_by_id())

    def test_bad_manifest_is_invalid_argument_naming_the_field(self):
        manifest = standard_manifest(memory_bytes=-1)
        with self.assertRaises(grpc.RpcError) as error:
            self.client.execute(guest("hello"), manifest=manifest)
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("manifest.memory_bytes", error.exception.details())

    def test_call_deadline_kills_the_run(self):
        # The client produces DEADLINE_EXCEEDED by itself; what the server must do is kill the
        # sandbox. Seeing it while the call runs also proves the process scan finds sandboxes.
        seen = []
        stop = threading.Event()

        def watch():
            while not seen and not stop.wait(0.01):
                seen.extend(descendants(SERVER.proc.pid))

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with self.assertRaises(grpc.RpcError) as error:
                self.client.execute(guest("spin"), timeout_ms=60_000, deadline_s=1.0)
        finally:
            stop.set()
            watcher.join()
        self.assertEqual(error.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertTrue(seen, "no sandbox process seen while the call ran")
        give_up = time.monotonic() + 10
        while descendants(SERVER.proc.pid) and time.monotonic() < give_up:
            time.sleep(0.02)
        self.assertEqual(descendants(SERVER.proc.pid), [], SERVER.logs())

    def test_deadline_covers_the_upload_retry(self):
        # A program no other test uses: the by-id attempt is NOT_FOUND, then the upload follows.
        delay_s, deadline_s = 0.2, 30.0
        recorder = _FirstCallDelayed(delay_s)
        with Client(SERVER.address, interceptors=[recorder]) as zc:
            response = zc.execute(guest("segv"), deadline_s=deadline_s)
            self.assertEqual(zc.image_uploads, 1)
        self.assertEqual(outcome_name(response), "SIGNALED", response)
        self.assertEqual(len(recorder.timeouts), 2)
        self.assertEqual(recorder.timeouts[0], deadline_s)
        # One deadline for the whole call: the retry gets what the first attempt left.
        self.assertLessEqual(recorder.timeouts[1], deadline_s - delay_s)
        self.assertGreater(recorder.timeouts[1], 0)

    def test_default_server_accepts_the_standard_manifest(self):
        server = Server()
        try:
            with Client(server.address) as zc:
                hello = zc.execute(guest("hello"))
                self.assertEqual(channel(hello, "/dev/stdout").output, b"hello, world\n")
                big = zc.execute(guest("bigout"), argv=["bigout", "5000", "100"],
                                 output_limit_bytes=1024)
                self.assertEqual(outcome_name(big), "OUTPUT_LIMIT")
                self.assertEqual(len(channel(big, "/dev/stdout").output), 1024)
                # A full default output limit (64 MiB) plus proto overhead: the default client
                # must receive what a default server sends, whole.
                full_limit = 64 << 20
                full = zc.execute(guest("bigout"), argv=["bigout", str(full_limit), "1048576"])
                self.assertEqual(outcome_name(full), "EXITED")
                output = channel(full, "/dev/stdout").output
                self.assertEqual(len(output), full_limit)
                pattern = bytes(range(ord("a"), ord("z") + 1))
                self.assertEqual(output, pattern * (full_limit // 26) + pattern[:full_limit % 26])
        finally:
            self.assertEqual(server.stop(), 0, server.logs())
            server.kill()
            server.dir.cleanup()

    def test_run_examples_script(self):
        script = os.path.join(SOURCE_DIR, "examples", "python", "run_examples.py")
        done = subprocess.run(
            [sys.executable, script, "--server=" + SERVER.address, "--examples=" + EXAMPLE_DIR],
            capture_output=True, timeout=120)
        out = done.stdout.decode("utf-8", "replace")
        self.assertEqual(done.returncode, 0, out + done.stderr.decode("utf-8", "replace"))
        self.assertIn("== hello: EXITED exit=0", out)
        self.assertIn("image uploaded again: False", out)
        if os.path.exists("/bin/busybox"):
            self.assertIn("apple\nbanana\nfig\npear\n", out)
            self.assertIn("300 ms timeout: TIMEOUT", out)


def executions(metrics_port):
    """zerocell_executions_total summed over outcomes, from a server's /metrics."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("zerocell_executions_total{"))


class ReplicasTest(unittest.TestCase):
    """Address lists: round-robin over replicas, UNAVAILABLE retried on another."""

    def test_channel_target(self):
        self.assertEqual(channel_target("127.0.0.1:1"), ("127.0.0.1:1", None))
        self.assertEqual(channel_target("dns:///zc-headless.ns.svc:50051"),
                         ("dns:///zc-headless.ns.svc:50051", None))
        self.assertEqual(channel_target("127.0.0.1:1,10.0.0.2:2"),
                         ("ipv4:127.0.0.1:1,10.0.0.2:2", "127.0.0.1:1"))
        self.assertEqual(channel_target("[::1]:1,[::2]:2"), ("ipv6:[::1]:1,[::2]:2", "[::1]:1"))
        for bad, message in [("127.0.0.1:1,host:2", '"host:2"'), ("127.0.0.1:1,", '"": no port'),
                             ("127.0.0.1:1,127.0.0.1:0", "port must be 1..65535"),
                             ("127.0.0.1:1,[::1]:2", "cannot be mixed"),
                             ("127.0.0.1:1,::1:2", "brackets")]:
            with self.assertRaises(ValueError) as caught:
                channel_target(bad)
            self.assertIn(message, str(caught.exception))
        # The one copy every client reads (the build puts it beside the stubs).
        with open(os.path.join(SOURCE_DIR, "proto", "zerocell", "v1", "service_config.json")) as f:
            self.assertEqual(json.load(f), SERVICE_CONFIG)

    def test_address_list_spreads_calls_and_survives_a_drained_replica(self):
        servers = [Server(["--metrics_listen=127.0.0.1:0"]) for _ in range(3)]
        try:
            client = Client(",".join(s.address for s in servers))
            program = read(guest("echo_args"))
            failures = []

            def run(first, last):
                for i in range(first, last):
                    try:
                        r = client.execute(program, argv=["echo_args", "call-%d" % i])
                        if b"argv[1]=call-%d\n" % i not in r.channels[1].output:
                            failures.append((i, r.channels[1].output))
                    except grpc.RpcError as error:
                        failures.append((i, error.code(), error.details()))

            threads = [threading.Thread(target=run, args=(t * 25, t * 25 + 25)) for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            spread = [executions(s.metrics_port) for s in servers]
            self.assertEqual(failures, [])
            self.assertEqual(sum(spread), 100)
            for n in spread:
                self.assertGreaterEqual(n, 20, spread)  # round-robin: about 33 each
            # Drain one replica: the next calls go to the other two, none fails.
            self.assertEqual(servers[0].stop(), 0, servers[0].logs())
            threads = [threading.Thread(target=run, args=(100 + t * 25, 125 + t * 25))
                       for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(failures, [])
            after = [executions(s.metrics_port) for s in servers[1:]]
            self.assertEqual(sum(after) - sum(spread[1:]), 100, (spread, after))
            client.close()
        finally:
            for s in servers:
                if s.proc.poll() is None:
                    s.stop()
                s.kill()
                s.dir.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
