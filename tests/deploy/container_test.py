#!/usr/bin/python3
"""The container image under the strictest ordinary pod settings, with a real container runtime.

The image (built by the container_image CTest fixture from this build's binaries) runs with
podman as uid 10001, --cap-drop=ALL, --read-only, --security-opt no-new-privileges and moby's
default seccomp profile (docker/seccomp/moby-default.json: what containerd applies as
RuntimeDefault; podman's own profile is more permissive). The host's zerocell CLI, the image's
own CLI and the Python client then run programs in it. $ZEROCELL_CONTAINER_SECCOMP=unconfined (or
another profile path) changes the profile, e.g. to tell a profile problem from others.

Needs podman (or docker) working as this user; the fixture also needs mmdebstrap the first time.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

from deploy_util import (BIN_DIR, BUILD_DIR, SOURCE_DIR, children, engine, personality_probe,
                         project_version, require_engine, root_mount_options, seccomp_profile,
                         status_fields, test_image)

GUEST_DIR = os.environ.get("ZEROCELL_GUEST_DIR", os.path.join(BUILD_DIR, "guests"))
EXAMPLE_DIR = os.path.join(BUILD_DIR, "examples")
STRICT = ["--user", "10001:10001", "--cap-drop=ALL", "--read-only",
          "--security-opt", "no-new-privileges"]


def cli(*args, timeout=60):
    return subprocess.run([os.path.join(BIN_DIR, "zerocell"), *args], capture_output=True,
                          text=True, timeout=timeout)


class Container:
    """A zerocelld container on the host network (port 0: no clash with parallel tests); the
    ready file comes back through a bind-mounted directory."""

    def __init__(self, image, options, flags=()):
        self.dir = tempfile.TemporaryDirectory(prefix="zerocell-container-")
        os.chmod(self.dir.name, 0o777)  # uid 10001 writes the ready file
        self.name = f"zerocell-test-{os.getpid()}-{int(time.monotonic() * 1000)}"
        start = time.monotonic()
        engine("run", "-d", "--name", self.name, "--network=host", *options,
               "-v", f"{self.dir.name}:/run/zerocell-test", image,
               "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
               "--ready_file=/run/zerocell-test/ready.json", *flags)
        ready = os.path.join(self.dir.name, "ready.json")
        while not os.path.exists(ready):
            if time.monotonic() - start > 60 or not self.running():
                raise RuntimeError("zerocelld in the container did not become ready:\n" +
                                   self.logs())
            time.sleep(0.01)
        self.start_to_ready_s = time.monotonic() - start
        with open(ready) as f:
            info = json.load(f)
        self.address = f"127.0.0.1:{info['grpc_port']}"
        self.metrics_port = info["metrics_port"]
        self.pid = int(engine("inspect", "--format", "{{.State.Pid}}", self.name).stdout)

    def running(self):
        out = engine("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return out.stdout.strip() == "true"

    def logs(self):
        done = engine("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self):
        """SIGTERM (podman stop), then the exit code."""
        engine("stop", "-t", "20", self.name)
        return int(engine("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)

    def remove(self):
        engine("rm", "-f", self.name, check=False)
        self.dir.cleanup()


IMAGE = None


def setUpModule():
    global IMAGE
    require_engine()
    IMAGE = test_image()


class ImageTest(unittest.TestCase):
    def test_config_labels_and_version(self):
        info = json.loads(engine("image", "inspect", IMAGE).stdout)[0]
        config = info["Config"]
        self.assertEqual(config["User"], "10001:10001")
        self.assertEqual(config["Entrypoint"][0], "/usr/bin/zerocelld")
        labels = config["Labels"]
        host = json.loads(cli("version", "--json").stdout)
        self.assertEqual(labels["org.opencontainers.image.version"], project_version())
        self.assertEqual(labels["org.opencontainers.image.revision"], host["commit"])
        for key in ("source", "licenses", "title", "created"):
            self.assertIn(f"org.opencontainers.image.{key}", labels)
        self.assertTrue(IMAGE.endswith(":" + project_version()), IMAGE)
        # The binaries in the image are this build's.
        inside = engine("run", "--rm", "--network=none", IMAGE, "--version").stdout
        self.assertEqual(inside, subprocess.run([os.path.join(BIN_DIR, "zerocelld"), "--version"],
                                                capture_output=True, text=True).stdout)
        print(f"image {IMAGE}: {info['Size'] / 1e6:.0f} MB", file=sys.stderr)

    def test_no_setuid_or_setgid_file(self):
        # As root: every directory of the image is searched.
        found = engine("run", "--rm", "--network=none", "--user=0:0", "--entrypoint",
                       "/usr/bin/find", IMAGE,
                       "/", "-xdev", "-type", "f", "-perm", "/6000").stdout
        self.assertEqual(found, "")


class StrictContainerTest(unittest.TestCase):
    """One container for the class: uid 10001, no capabilities, read-only, no-new-privileges,
    moby's seccomp profile."""

    @classmethod
    def setUpClass(cls):
        cls.profile = seccomp_profile()
        cls.container = Container(IMAGE, [*STRICT, "--security-opt", f"seccomp={cls.profile}"])
        print(f"start to ready: {cls.container.start_to_ready_s * 1000:.0f} ms (seccomp "
              f"{os.path.basename(cls.profile)})", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        try:
            status = cls.container.stop()
            logs = cls.container.logs()
        finally:
            cls.container.remove()
        if status != 0 or '"event":"stopped"' not in logs:
            raise AssertionError(f"zerocelld did not drain and exit 0 on SIGTERM ({status}):\n"
                                 + logs)

    def test_server_process_posture(self):
        status = status_fields(self.container.pid)
        self.assertEqual(status["Uid"].split(), ["10001"] * 4)
        self.assertEqual(status["Gid"].split(), ["10001"] * 4)
        for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(status[caps], 16), 0, caps)
        self.assertEqual(status["NoNewPrivs"], "1")
        # 2: a filter is installed (0 only in the unconfined comparison run).
        self.assertEqual(status["Seccomp"], "0" if self.profile == "unconfined" else "2")
        self.assertTrue(root_mount_options(self.container.pid).startswith("ro"))
        if self.profile.endswith("moby-default.json"):
            self.assertEqual(personality_probe(self.container.name), "EPERM",
                             "moby's profile is not the one in force")

    def test_cli_runs_programs_in_the_container(self):
        hello = cli("run", f"--server={self.container.address}", os.path.join(GUEST_DIR, "hello"))
        self.assertEqual((hello.returncode, hello.stdout), (0, "hello, world\n"), hello.stderr)
        code = cli("run", f"--server={self.container.address}",
                   os.path.join(GUEST_DIR, "exit_code"), "42")
        self.assertEqual(code.returncode, 42, code.stderr)
        violation = cli("run", f"--server={self.container.address}",
                        os.path.join(GUEST_DIR, "pol_socket"))
        self.assertEqual(violation.returncode, 159, violation.stderr)
        self.assertIn("POLICY_VIOLATION: socket (41)", violation.stderr)
        # The same JSON as a local run, usage aside; the container may leave more
        # nondeterminism open than this host (moby's profile refuses fixed addresses), and says so.
        local = json.loads(cli("run", "--json", os.path.join(GUEST_DIR, "echo_args"), "a").stdout)
        remote = json.loads(cli("run", "--json", f"--server={self.container.address}",
                                os.path.join(GUEST_DIR, "echo_args"), "a").stdout)
        nondeterminism = [r.pop("nondeterminism", []) for r in (local, remote)]
        print(f"nondeterminism in the container: {nondeterminism[1]}", file=sys.stderr)
        self.assertLessEqual(set(nondeterminism[0]), set(nondeterminism[1]))
        for r in (local, remote):
            r.pop("usage", None)
        self.assertEqual(remote, local)

    def test_sandboxes_are_unprivileged_children(self):
        cli("run", f"--server={self.container.address}", os.path.join(GUEST_DIR, "hello"))
        parked = children(self.container.pid)  # the warm pool keeps sandboxes parked
        self.assertTrue(parked, "no parked sandbox after a run")
        for pid in parked:
            status = status_fields(pid)
            self.assertEqual(int(status["CapEff"], 16), 0)
            self.assertEqual(status["NoNewPrivs"], "1")
            self.assertEqual(status["Uid"].split()[1], "10001")

    def test_image_cli_inside_the_container(self):
        done = engine("exec", self.container.name, "/usr/bin/zerocell", "run",
                      f"--server={self.container.address}", "/usr/share/zerocell/examples/hello",
                      "inside", check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "hello from a Zerocell sandbox inside\n")

    def test_python_client(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.join(BUILD_DIR, "python"), os.path.join(SOURCE_DIR, "examples", "python")]))
        done = subprocess.run(
            ["/usr/bin/python3", os.path.join(SOURCE_DIR, "examples", "python", "run_examples.py"),
             f"--server={self.container.address}", f"--examples={EXAMPLE_DIR}"],
            capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("== hello: EXITED exit=0", done.stdout)
        self.assertIn("image uploaded again: False", done.stdout)
        self.assertIn("escape", done.stdout)

    def test_metrics_endpoint(self):
        import urllib.request
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.container.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        self.assertIn("zerocell_executions_total", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
