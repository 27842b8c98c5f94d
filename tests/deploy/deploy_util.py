"""Shared helpers of the deploy tests: paths, the helm binary, rendering the chart.

The tests run from CTest with /usr/bin/python3 and ZEROCELL_SOURCE_DIR / ZEROCELL_BIN_DIR /
ZEROCELL_BUILD_DIR set (tests/deploy/CMakeLists.txt).
"""

import os
import re
import socket
import subprocess
import tempfile

import yaml

SOURCE_DIR = os.environ.get("ZEROCELL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
BUILD_DIR = os.environ.get("ZEROCELL_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
BIN_DIR = os.environ.get("ZEROCELL_BIN_DIR", os.path.join(BUILD_DIR, "bin"))
CHART_DIR = os.path.join(SOURCE_DIR, "helm", "zerocell")
MOBY_PROFILE = os.path.join(SOURCE_DIR, "docker", "seccomp", "moby-default.json")


def project_version():
    """The version in project(zerocell VERSION x.y.z ...) of the top CMakeLists.txt."""
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"project\(zerocell VERSION ([0-9.]+)", f.read()).group(1)


_HELM = None


def helm():
    """Path of the helm binary (scripts/deploy_tools.sh fetches it once per machine)."""
    global _HELM
    if _HELM is None:
        done = subprocess.run(["bash", os.path.join(SOURCE_DIR, "scripts", "deploy_tools.sh")],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError("scripts/deploy_tools.sh could not provide helm (it needs npm and "
                               "the npm registry):\n" + done.stderr)
        _HELM = done.stdout.strip().splitlines()[-1]
    return _HELM


class RenderError(Exception):
    pass


def render(values=None, release="r1", namespace="ns1", extra_args=()):
    """`helm template` of the chart with `values` (a dict, as a values file): the documents."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(values or {}, f)
        f.flush()
        done = subprocess.run(
            [helm(), "template", release, CHART_DIR, "--namespace", namespace, "-f", f.name,
             *extra_args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RenderError(done.stderr)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(docs, kind, name=None):
    """The one document of `kind` (and `name`); AssertionError if not exactly one."""
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[d['kind'] for d in docs]}"
    return found[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- containers -------------------------------------------------------------------------------

_ENGINE_ENV = None


def engine_env():
    """(engine, environment) as scripts/container_env.sh sets them up (podman + containers.conf)."""
    global _ENGINE_ENV
    if _ENGINE_ENV is None:
        script = os.path.join(SOURCE_DIR, "scripts", "container_env.sh")
        out = subprocess.run(
            ["bash", "-c", f'source "{script}"; echo "$ZEROCELL_CONTAINER_ENGINE"; '
                           'echo "${CONTAINERS_CONF:-}"'],
            capture_output=True, text=True, check=True).stdout.splitlines()
        env = dict(os.environ)
        if out[1]:
            env["CONTAINERS_CONF"] = out[1]
        _ENGINE_ENV = (out[0], env)
    return _ENGINE_ENV


def engine(*args, check=True, timeout=300, input=None):
    """Runs the container engine; CompletedProcess (text). check: raise with its output."""
    name, env = engine_env()
    done = subprocess.run([name, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, input=input)
    if check and done.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)}: exit {done.returncode}\n{done.stdout}"
                           f"{done.stderr}")
    return done


def require_engine():
    """Raises with what is missing when no container engine can run containers here."""
    name, _ = engine_env()
    if not name:
        raise RuntimeError("the container tests need podman (bash scripts/setup.sh installs podman "
                           "and runc) or a working docker")
    info = engine("info", check=False, timeout=120)
    if info.returncode != 0:
        raise RuntimeError(f"{name} info failed: the container tests need a working {name} (as "
                           f"root, or rootless with subuid/subgid ranges for this user):\n"
                           f"{info.stderr}")


def test_image():
    """The image the container_image fixture built (build/deploy/image.txt)."""
    path = os.path.join(BUILD_DIR, "deploy", "image.txt")
    if "ZEROCELL_TEST_IMAGE" in os.environ:
        return os.environ["ZEROCELL_TEST_IMAGE"]
    with open(path) as f:
        return f.read().strip()


def seccomp_profile():
    """The profile containers run under: moby's default.json (what containerd applies for
    RuntimeDefault) unless $ZEROCELL_CONTAINER_SECCOMP names another (a path or "unconfined")."""
    return os.environ.get("ZEROCELL_CONTAINER_SECCOMP", MOBY_PROFILE)


def status_fields(pid):
    """/proc/<pid>/status as a dict."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def root_mount_options(pid):
    """The mount options of the process's root file system ("ro,relatime", ...)."""
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                return fields[5]
    return ""


def children(pid):
    """Pids whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
    return out


def personality_probe(container):
    """What the container's seccomp profile does to personality(ADDR_NO_RANDOMIZE), run with
    setarch -R inside it: "allowed", "EPERM" (moby's default.json), "ENOSYS" (podman's own)."""
    done = engine("exec", container, "/usr/bin/setarch", "x86_64", "-R", "/bin/true", check=False)
    if done.returncode == 0:
        return "allowed"
    if "Operation not permitted" in done.stderr:
        return "EPERM"
    if "Function not implemented" in done.stderr:
        return "ENOSYS"
    return done.stderr.strip()
