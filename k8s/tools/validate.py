"""Builds every kustomization under k8s/ and validates what it renders.

Run by scripts/validate-k8s, which installs the pinned tools (kubectl with its embedded
kustomize, kubernetes-validate with its schemas). For each kustomization directory:

1. `kubectl kustomize DIR` must succeed.
2. Every object must pass the Kubernetes OpenAPI schema of its kind, in strict mode (an
   unknown or misspelt field fails), for each Kubernetes version in --kubernetes-version.
   A kind without a schema fails too, except the ones with a schema in k8s/tools/schemas
   (OpenShift's SecurityContextConstraints; the Prometheus Operator's PrometheusRule and
   PodMonitor of k8s/monitoring).
3. Workload rules the schemas cannot express, so that a later edit cannot quietly drop
   them: every container has CPU and memory requests, a memory limit, liveness and
   readiness probes, no privilege escalation, a read-only root filesystem, all
   capabilities dropped and a RuntimeDefault seccomp profile; images carry a tag or a
   digest, never `latest` (an overlay replaces the bases' `:set-in-overlay`); a pod's
   service account and the ConfigMaps it mounts are part of the same build.
4. Embedded Vector configurations (ConfigMap keys ending in .yaml) parse as YAML, and
   embedded Grafana dashboards (keys ending in .json) as JSON.

Prints one line per problem and a summary; exits 1 if there was any problem.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
import referencing
import referencing.jsonschema
import yaml

SCHEMAS = Path(__file__).resolve().parent / "schemas"
# Kinds that kubernetes-validate has no schema for, with ours: (apiVersion, kind) -> file.
EXTRA_SCHEMAS = {
    ("security.openshift.io/v1", "SecurityContextConstraints"): "securitycontextconstraints-security-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "podmonitor-monitoring-v1.json",
}
WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubectl", required=True, help="the kubectl binary (kustomize)")
    parser.add_argument(
        "--kubernetes-version",
        action="append",
        required=True,
        help="Kubernetes version to validate against; repeat for several",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="kustomization directories")
    args = parser.parse_args()

    problems: list[str] = []
    objects = 0
    for directory in args.dirs:
        rendered = build(args.kubectl, directory, problems)
        if rendered is None:
            continue
        objects += len(rendered)
        for version in args.kubernetes_version:
            for obj in rendered:
                check_schema(obj, version, f"{directory}: {name_of(obj)}", problems)
        check_workloads(rendered, directory, problems)
        check_embedded_yaml(rendered, directory, problems)

    for problem in problems:
        print(f"FAIL {problem}")
    versions = ", ".join(args.kubernetes_version)
    print(
        f"validate-k8s: {len(args.dirs)} kustomizations, {objects} objects, "
        f"Kubernetes {versions}: {len(problems)} problem(s)"
    )
    return 1 if problems else 0


def build(kubectl: str, directory: Path, problems: list[str]) -> list[dict] | None:
    """Renders one kustomization; None (and a problem) when kustomize fails."""
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        problems.append(f"{directory}: kubectl kustomize failed: {result.stderr.strip()}")
        return None
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def name_of(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {namespace}{meta.get('name')}"


def check_schema(obj: dict, version: str, where: str, problems: list[str]) -> None:
    """Strict OpenAPI validation of one object against one Kubernetes version."""
    extra = EXTRA_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
    try:
        if extra:
            for e in extra_errors(obj, SCHEMAS / extra, version):
                problems.append(f"{where} (schema {extra}): {json_path(e)}: {e.message}")
        else:
            kv.validate(obj, version, strict=True)
    except kv.ValidationError as e:
        problems.append(f"{where} (Kubernetes {version}): {json_path(e)}: {e.message}")
    except kv.SchemaNotFoundError as e:
        problems.append(f"{where}: {e.message} (add a schema to k8s/tools/schemas?)")
    except kv.VersionNotSupportedError as e:
        problems.append(f"{where}: {e.message}")


def json_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.path) or "(top)"


def extra_errors(obj: dict, schema_file: Path, version: str) -> list[jsonschema.ValidationError]:
    """All errors against one of our schemas; ObjectMeta comes from the Kubernetes ones."""
    schema = json.loads(schema_file.read_text())
    schema_version = [v for v in kv.all_versions() if kv.major_minor(v) <= kv.major_minor(version)][-1]
    definitions = kv.schema_contents(
        f"kubernetes-json-schema/v{schema_version}-local-strict/_definitions.json", version
    )
    registry = referencing.Registry().with_resources(
        [
            (schema["$id"], referencing.Resource.from_contents(schema)),
            (definitions["$id"], referencing.Resource.from_contents(definitions)),
        ]
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))


def check_workloads(objs: list[dict], directory: Path, problems: list[str]) -> None:
    """The rules a schema cannot state; see the module doc."""
    service_accounts = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"}
    config_maps = {o["metadata"]["name"] for o in objs if o["kind"] == "ConfigMap"}
    for obj in objs:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        where = f"{directory}: {name_of(obj)}"
        pod = obj["spec"]["template"]["spec"]
        seccomp = (pod.get("securityContext") or {}).get("seccompProfile", {}).get("type")
        if seccomp != "RuntimeDefault":
            problems.append(f"{where}: pod securityContext.seccompProfile.type is not RuntimeDefault")
        account = pod.get("serviceAccountName")
        if not account:
            problems.append(f"{where}: no serviceAccountName (would run as `default`)")
        elif account not in service_accounts:
            problems.append(f"{where}: service account {account} is not in the build")
        for volume in pod.get("volumes", []):
            name = (volume.get("configMap") or {}).get("name")
            if name and name not in config_maps:
                problems.append(f"{where}: ConfigMap {name} (volume {volume['name']}) is not in the build")
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            check_container(container, f"{where} container {container['name']}", problems)


def check_container(container: dict, where: str, problems: list[str]) -> None:
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if "@sha256:" not in image and tag in ("", "latest"):
        problems.append(f"{where}: image {image} has neither a version tag nor a digest")
    resources = container.get("resources") or {}
    for kind, key in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
        if key not in (resources.get(kind) or {}):
            problems.append(f"{where}: no resources.{kind}.{key}")
    for probe in ("livenessProbe", "readinessProbe"):
        if probe not in container:
            problems.append(f"{where}: no {probe}")
    security = container.get("securityContext") or {}
    if security.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: securityContext.allowPrivilegeEscalation is not false")
    if security.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: securityContext.readOnlyRootFilesystem is not true")
    if security.get("privileged"):
        problems.append(f"{where}: securityContext.privileged is set")
    if (security.get("capabilities") or {}).get("drop") != ["ALL"]:
        problems.append(f"{where}: securityContext.capabilities.drop is not [ALL]")
    if security.get("capabilities", {}).get("add"):
        problems.append(f"{where}: securityContext.capabilities.add is set")


def check_embedded_yaml(objs: list[dict], directory: Path, problems: list[str]) -> None:
    for obj in objs:
        if obj["kind"] != "ConfigMap":
            continue
        for key, value in (obj.get("data") or {}).items():
            if key.endswith((".yaml", ".yml")):
                try:
                    yaml.safe_load(value)
                except yaml.YAMLError as e:
                    problems.append(f"{directory}: {name_of(obj)} key {key} is not valid YAML: {e}")
            elif key.endswith(".json"):
                try:
                    json.loads(value)
                except json.JSONDecodeError as e:
                    problems.append(f"{directory}: {name_of(obj)} key {key} is not valid JSON: {e}")


if __name__ == "__main__":
    sys.exit(main())
