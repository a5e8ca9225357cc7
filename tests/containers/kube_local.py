#!/usr/bin/python3
"""Adapts rendered Kubernetes manifests to `podman kube play` on loopback.

  kubectl kustomize OVERLAY | kube_local.py --prefix ID --tag TAG \\
      --ports PORTS.json > PLAY.yaml

Changes only what a real cluster provides and podman does not, and says so:
- Cluster DNS and Services: every pod uses the host's network and listens on
  127.0.0.1 on a free port chosen here; the gateway's dns:///<service>:<port>
  targets become ipv4:127.0.0.1:<port of replica 1>,<port of replica 2>...
  (the same round_robin over every replica), and `postgres:5432` in any
  value becomes 127.0.0.1:<PostgreSQL's port>.
- Replicas: podman plays one pod per Deployment, so a Deployment of N
  replicas becomes N Deployments of one (<prefix>-<name>-<i>); a StatefulSet
  becomes a Deployment with a PersistentVolumeClaim per volume claim
  template.
- Secrets: podman 4.3 plays no Secret, so each becomes a ConfigMap (same
  keys, decoded values) and every reference to it a ConfigMap reference.
- Objects podman does not play (Service, ServiceAccount, NetworkPolicy,
  PodDisruptionBudget, HorizontalPodAutoscaler, Namespace) are left out;
  probes are left out (podman ignores readiness probes and runs liveness
  probes only on demand; the rehearsal polls /healthz itself).
- Images: cstopa/<name>:<anything> becomes localhost/cstopa/<name>:TAG (the
  images deploy/images.sh built; never pulled).
- Names: every pod, ConfigMap and volume is prefixed with --prefix (podman
  makes named volumes of ConfigMaps and emptyDirs), so that nothing
  collides with another run.
Everything else (environment, volumes, security contexts, read-only root
file systems, resources) is played as rendered.

PORTS.json receives {"<deployment>": [{"pod": ..., "grpc": P, "admin": A},
...], "postgres": [{"pod": ..., "port": P}]}.
"""

import argparse
import base64
import copy
import json
import re
import socket
import sys

import yaml

DROPPED = {"Service", "ServiceAccount", "NetworkPolicy", "PodDisruptionBudget",
           "HorizontalPodAutoscaler", "Namespace"}


def free_port(taken):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def env_value(container, name):
    for e in container.get("env", []):
        if e["name"] == name:
            return e
    return None


def set_env(container, name, value):
    e = env_value(container, name)
    if e is None:
        container.setdefault("env", []).append({"name": name, "value": value})
    else:
        e.pop("valueFrom", None)
        e["value"] = value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--prefix", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--ports", required=True)
    args = p.parse_args()

    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    taken = set()
    out, ports = [], {}
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    pvcs = {d["metadata"]["name"] for d in docs
            if d["kind"] == "PersistentVolumeClaim"}
    pg_port = free_port(taken)
    pg_host = f"127.0.0.1:{pg_port}"

    def fix_refs(spec):
        """Secrets -> ConfigMaps, ConfigMap and PVC names prefixed."""
        for c in spec.get("containers", []):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).pop("secretKeyRef", None)
                if ref is not None:
                    e["valueFrom"]["configMapKeyRef"] = ref
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref is not None:
                    ref["name"] = f"{args.prefix}-{ref['name']}"
        for v in spec.get("volumes", []):
            if "secret" in v:
                s = v.pop("secret")
                v["configMap"] = {"name": s["secretName"]}
            if "configMap" in v:
                v["configMap"]["name"] = (
                    f"{args.prefix}-{v['configMap']['name']}")
            claim = v.get("persistentVolumeClaim")
            if claim and claim["claimName"] in pvcs:
                claim["claimName"] = f"{args.prefix}-{claim['claimName']}"

    def localize(spec, pod):
        spec["hostNetwork"] = True
        # podman 4.3 makes a named volume of an emptyDir, named as the
        # pod's volume: name it after the pod, so no two pods share one.
        renamed = {}
        for v in spec.get("volumes", []):
            if "emptyDir" in v:
                renamed[v["name"]] = f"{pod}-{v['name']}"
                v["name"] = renamed[v["name"]]
        for c in spec.get("containers", []):
            for m in c.get("volumeMounts", []):
                m["name"] = renamed.get(m["name"], m["name"])
        for c in spec.get("containers", []):
            c.pop("ports", None)
            c.pop("readinessProbe", None)
            c.pop("livenessProbe", None)
            c.pop("startupProbe", None)
            m = re.match(r"^(?:[^/]+/)?(cstopa/[a-z0-9-]+)(?::.*)?$",
                         c["image"])
            if m:
                c["image"] = f"localhost/{m.group(1)}:{args.tag}"
            c["imagePullPolicy"] = "Never"

    deployments = []
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if kind in DROPPED:
            continue
        if kind == "Secret":
            data = {k: base64.b64decode("".join(str(v).split())).decode()
                    for k, v in (d.get("data") or {}).items()}
            data.update(d.get("stringData") or {})
            data = {k: v.replace("postgres:5432", pg_host)
                    for k, v in data.items()}
            out.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"{args.prefix}-{name}"},
                        "data": data})
        elif kind == "ConfigMap":
            d["metadata"]["name"] = f"{args.prefix}-{name}"
            out.append(d)
        elif kind == "PersistentVolumeClaim":
            d["metadata"]["name"] = f"{args.prefix}-{name}"
            d["metadata"].pop("namespace", None)
            out.append(d)
        elif kind == "StatefulSet":
            spec = d["spec"]["template"]["spec"]
            for t in d["spec"].get("volumeClaimTemplates", []):
                claim = f"{args.prefix}-{t['metadata']['name']}-{name}-0"
                out.append({"apiVersion": "v1",
                            "kind": "PersistentVolumeClaim",
                            "metadata": {"name": claim}, "spec": t["spec"]})
                spec.setdefault("volumes", []).append(
                    {"name": t["metadata"]["name"],
                     "persistentVolumeClaim": {"claimName": claim}})
            pod = f"{args.prefix}-{name}-0"
            fix_refs(spec)
            localize(spec, pod)
            c = spec["containers"][0]
            c["args"] = list(c.get("args", [])) + [
                "-c", f"port={pg_port}", "-c", "listen_addresses=127.0.0.1"]
            ports.setdefault(name, []).append({"pod": pod, "port": pg_port})
            out.append({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": pod,
                                     "labels": d["metadata"].get("labels",
                                                                 {})},
                        "spec": {"replicas": 1,
                                 "selector": d["spec"]["selector"],
                                 "template": d["spec"]["template"]}})
        elif kind == "Deployment":
            deployments.append(d)
        else:
            sys.exit(f"kube_local.py: no rule for {kind}/{name}")

    # The services first, so the gateway's targets know their ports.
    deployments.sort(key=lambda d: d["metadata"]["name"] == "gateway")
    for d in deployments:
        name = d["metadata"]["name"]
        replicas = int(d["spec"].get("replicas", 1))
        for i in range(replicas):
            copy_ = copy.deepcopy(d)
            spec = copy_["spec"]["template"]["spec"]
            pod = f"{args.prefix}-{name}-{i}"
            fix_refs(spec)
            localize(spec, pod)
            grpc, admin = free_port(taken), free_port(taken)
            c = spec["containers"][0]
            set_env(c, "CSTOPA_LISTEN", f"127.0.0.1:{grpc}")
            set_env(c, "CSTOPA_ADMIN_LISTEN", f"127.0.0.1:{admin}")
            for e in c.get("env", []):
                if isinstance(e.get("value"), str):
                    e["value"] = e["value"].replace("postgres:5432", pg_host)
                m = re.match(r"^CSTOPA_([A-Z]+)_TARGET$", e["name"])
                if m and "value" in e:
                    backend = m.group(1).lower()
                    if backend not in ports:
                        sys.exit(f"kube_local.py: {name} calls {backend}, "
                                 "which the manifests do not deploy")
                    e["value"] = "ipv4:" + ",".join(
                        f"127.0.0.1:{r['grpc']}" for r in ports[backend])
            copy_["metadata"] = {"name": pod,
                                 "labels": d["metadata"].get("labels", {})}
            copy_["spec"]["replicas"] = 1
            copy_["spec"].pop("strategy", None)
            ports.setdefault(name, []).append(
                {"pod": pod, "grpc": grpc, "admin": admin})
            out.append(copy_)

    yaml.safe_dump_all(out, sys.stdout, sort_keys=False)
    with open(args.ports, "w", encoding="utf-8") as f:
        json.dump(ports, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
