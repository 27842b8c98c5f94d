#!/usr/bin/python3
"""The chart's own pod spec, run by `podman play kube`: proves that its security settings run.

The Deployment's pod template is rendered by the real helm binary (image: the container_image
fixture's, pullPolicy Never) and played unchanged except where podman is not a kubelet:
- seccomp: containerd's RuntimeDefault is moby's default.json, podman's is its own, more
  permissive profile, and podman 4.3 ignores securityContext.seccompProfile: the profile goes in
  as the annotation podman reads (seccomp.security.alpha.kubernetes.io/pod: localhost/...), and a
  probe inside the pod shows it is in force;
- network: hostNetwork (no pod network here), so `ports` (which podman refuses on the host
  network) are dropped and the chart is rendered with free ports.
Everything else (uid, capabilities, no-new-privileges, read-only root, emptyDir volumes, args) is
the chart's, and is checked on the running zerocelld process in /proc.
"""

import copy
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

from deploy_util import (BIN_DIR, BUILD_DIR, MOBY_PROFILE, engine, find, free_port,
                         personality_probe, render, require_engine, root_mount_options,
                         seccomp_profile, status_fields, test_image)

GUEST_DIR = os.environ.get("ZEROCELL_GUEST_DIR", os.path.join(BUILD_DIR, "guests"))
POD = f"zerocell-play-{os.getpid()}"


def pod_manifest(image, grpc_port, metrics_port):
    """(rendered pod template spec, the Pod podman plays, the helm test pod's script)."""
    repository, tag = image.rsplit(":", 1)
    docs = render({"image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
                   "server": {"grpcPort": grpc_port, "metricsPort": metrics_port},
                   "service": {"port": grpc_port}})
    test_script = find(docs, "Pod")["spec"]["containers"][0]["args"][0]
    template = find(docs, "Deployment")["spec"]["template"]
    spec = copy.deepcopy(template["spec"])
    spec["hostNetwork"] = True
    for c in spec["containers"]:
        c.pop("ports", None)
    profile = seccomp_profile()
    annotation = ("unconfined" if profile == "unconfined"
                  else f"localhost/{os.path.basename(profile)}")
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": POD, "labels": template["metadata"]["labels"],
                        "annotations": {"seccomp.security.alpha.kubernetes.io/pod": annotation}},
           "spec": spec}
    return template["spec"], pod, test_script


class PlayKubeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_engine()
        cls.grpc_port, cls.metrics_port = free_port(), free_port()
        cls.rendered, pod, cls.test_script = pod_manifest(test_image(), cls.grpc_port,
                                                          cls.metrics_port)
        cls.manifest = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="zerocell-pod-")
        yaml.safe_dump(pod, cls.manifest)
        cls.manifest.flush()
        profile = seccomp_profile()
        root = os.path.dirname(profile if profile != "unconfined" else MOBY_PROFILE)
        start = time.monotonic()
        engine("play", "kube", f"--seccomp-profile-root={root}", cls.manifest.name)
        cls.container = f"{POD}-zerocelld"
        cls.pid = int(engine("inspect", "--format", "{{.State.Pid}}", cls.container).stdout)
        # Ready once the gRPC port answers a real call (the image's own CLI, as helm test does).
        while True:
            done = subprocess.run([os.path.join(BIN_DIR, "zerocell"), "images",
                                   f"--server=127.0.0.1:{cls.grpc_port}"], capture_output=True)
            if done.returncode == 0:
                break
            if time.monotonic() - start > 60:
                raise RuntimeError("the pod's zerocelld did not answer:\n" + cls.logs())
            time.sleep(0.05)
        print(f"pod start to serving: {(time.monotonic() - start) * 1000:.0f} ms", file=sys.stderr)

    @classmethod
    def logs(cls):
        done = engine("logs", cls.container, check=False)
        return done.stdout + done.stderr

    @classmethod
    def tearDownClass(cls):
        try:
            engine("pod", "stop", "-t", "20", POD, check=False)
            code = engine("inspect", "--format", "{{.State.ExitCode}}", cls.container,
                          check=False).stdout.strip()
            logs = cls.logs()
        finally:
            engine("pod", "rm", "-f", POD, check=False)
            cls.manifest.close()
        if code != "0" or '"event":"stopped"' not in logs:
            raise AssertionError(f"the pod's zerocelld did not drain and exit 0 ({code}):\n{logs}")

    def test_the_chart_settings_are_in_force(self):
        c = self.rendered["containers"][0]["securityContext"]
        status = status_fields(self.pid)
        uid = str(c["runAsUser"])
        self.assertEqual(status["Uid"].split(), [uid] * 4)
        self.assertEqual(status["Gid"].split(), [str(c["runAsGroup"])] * 4)
        self.assertEqual(c["capabilities"], {"drop": ["ALL"]})
        for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(status[caps], 16), 0, caps)
        self.assertIs(c["allowPrivilegeEscalation"], False)
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertIs(c["readOnlyRootFilesystem"], True)
        self.assertTrue(root_mount_options(self.pid).startswith("ro"))
        if seccomp_profile() != "unconfined":
            self.assertEqual(status["Seccomp"], "2")
        if seccomp_profile() == MOBY_PROFILE:
            self.assertEqual(personality_probe(self.container), "EPERM",
                             "moby's profile (RuntimeDefault) is not the one in force")
        with open(f"/proc/{self.pid}/cmdline", "rb") as f:
            argv = f.read().decode().split("\0")
        self.assertIn(f"--listen=0.0.0.0:{self.grpc_port}", argv)
        self.assertIn("--image_dir=/var/lib/zerocell/images", argv)

    def test_the_emptydir_volumes_are_writable(self):
        for path in ("/var/lib/zerocell/images/probe", "/tmp/probe"):
            done = engine("exec", self.container, "/usr/bin/touch", path, check=False)
            self.assertEqual(done.returncode, 0, f"{path}: {done.stderr}")
        done = engine("exec", self.container, "/usr/bin/touch", "/usr/probe", check=False)
        self.assertNotEqual(done.returncode, 0, "the root file system is writable")

    def test_execute_in_the_pod(self):
        server = f"--server=127.0.0.1:{self.grpc_port}"
        hello = subprocess.run([os.path.join(BIN_DIR, "zerocell"), "run", server,
                                os.path.join(GUEST_DIR, "hello")], capture_output=True, text=True)
        self.assertEqual((hello.returncode, hello.stdout), (0, "hello, world\n"), hello.stderr)
        # The helm test's command: the image's own CLI and hello guest.
        inside = engine("exec", self.container, "/usr/bin/zerocell", "run", server,
                        "--timeout=10", "/usr/share/zerocell/examples/hello", "test", check=False)
        self.assertEqual(inside.returncode, 0, inside.stderr)
        self.assertEqual(inside.stdout, "hello from a Zerocell sandbox test\n")
        # The helm test pod's own script, with the Services' names (no cluster DNS here) pointed
        # at the pod: the same shell, CLI, guest and expected output.
        script = (self.test_script.replace(f'"r1-zerocell:{self.grpc_port}"',
                                           f'"127.0.0.1:{self.grpc_port}"')
                  .replace(f'"dns:///r1-zerocell-headless.ns1.svc:{self.grpc_port}"',
                           f'"ipv4:127.0.0.1:{self.grpc_port}"'))
        self.assertNotEqual(script, self.test_script)
        helm_test = engine("exec", self.container, "/bin/sh", "-ec", script, check=False)
        self.assertEqual(helm_test.returncode, 0, helm_test.stdout + helm_test.stderr)
        self.assertEqual(helm_test.stdout.count("hello from a Zerocell sandbox test"), 2)
        # Accepted images are persisted on the emptyDir (--image_dir), named by content.
        with open(os.path.join(GUEST_DIR, "hello"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        listing = engine("exec", self.container, "/bin/ls", "/var/lib/zerocell/images").stdout
        self.assertIn(f"{digest}.elf", listing.split())


if __name__ == "__main__":
    unittest.main(verbosity=2)
