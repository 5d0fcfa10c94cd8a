"""The Kubernetes manifests under deploy/k8s, rendered as kustomize would: each site's overlay
runs one Deployment per service of its site, probed on /health and /ready, scraped on its
HTTP port, with every setting a production service refuses to start without."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cityloop_deploy.levels import site_services
from cityloop_deploy.run import DEMO_DISTRICTS
from cityloop_intake.open311.settings import DEVELOPMENT_API_KEYS, Open311Settings
from cityloop_shared.contract.sites import SiteLevel, site_level
from cityloop_shared.runtime.built_in import built_in_settings
from cityloop_shared.settings import AuthSettings, DatabaseSettings, RunMode, ServiceSettings
from cityloop_sync.settings import SyncSettings

K8S = Path(__file__).parents[1] / "k8s"
OVERLAYS = {
    "370212": K8S / "overlays" / "district-370212",
    "370200": K8S / "overlays" / "city-370200",
}
Resource = dict[str, Any]


def load(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def merge(base: Any, patch: Any) -> Any:
    """A strategic merge patch as far as these manifests use it: maps merge key by key, lists
    of named items merge by name, anything else is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        return {**base, **{key: merge(base.get(key), value) for key, value in patch.items()}}
    if isinstance(base, list) and isinstance(patch, list):
        named = all(isinstance(item, dict) and "name" in item for item in [*base, *patch])
        if named:
            by_name = {item["name"]: item for item in base}
            for item in patch:
                by_name[item["name"]] = merge(by_name.get(item["name"]), item)
            return list(by_name.values())
    return patch


def render(directory: Path) -> list[Resource]:
    """What ``kustomize build directory`` gives, for the fields these kustomizations use."""
    (kustomization,) = load(directory / "kustomization.yaml")
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "patches"}
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        resources += render(path) if path.is_dir() else load(path)
    for patch in kustomization.get("patches", []):
        (change,) = load(directory / patch["path"])
        targets = [r for r in resources if same(r, change)]
        assert len(targets) == 1, f"{patch['path']} patches {len(targets)} resources"
        resources[resources.index(targets[0])] = merge(targets[0], change)
    if "namespace" in kustomization:
        for resource in resources:
            resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def same(one: Resource, other: Resource) -> bool:
    return (one["kind"], one["metadata"]["name"]) == (other["kind"], other["metadata"]["name"])


def of_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def refused_without() -> set[str]:
    """Every setting a production service refuses to start with at its built-in value."""
    problems = built_in_settings(
        ServiceSettings(
            mode=RunMode.PRODUCTION,
            auth=AuthSettings(jwks_file=None),
            database=DatabaseSettings(url="postgresql+psycopg://cityloop:cityloop@db/cityloop"),
        )
    )
    problems += Open311Settings(api_keys=dict(DEVELOPMENT_API_KEYS)).built_in()
    names = {match.group() for p in problems if (match := re.match(r"CITYLOOP_[A-Z0-9_]+", p))}
    assert len(names) == len(problems), problems
    return names


def test_every_manifest_parses_as_kubernetes_objects() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert files
    for path in files:
        for doc in load(path):
            assert {"apiVersion", "kind"} <= set(doc), path
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path


@pytest.mark.parametrize("site", sorted(OVERLAYS))
def test_each_site_runs_its_services_probed_scraped_and_configured_for_production(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = render(OVERLAYS[site])
    is_city = site_level(site) is SiteLevel.CITY
    deployments = of_kind(resources, "Deployment")
    services = of_kind(resources, "Service")
    assert sorted(deployments) == sorted(site_services(is_city, with_evaluation=True))
    assert sorted(services) == sorted(deployments)
    assert {r["metadata"]["namespace"] for r in resources} == {f"cityloop-{site}"}
    settings = of_kind(resources, "ConfigMap")["cityloop-site"]["data"]
    assert settings["CITYLOOP_SITE"] == site
    assert "CITYLOOP_MODE" not in settings
    required = refused_without()

    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= pod["metadata"]["labels"].items()
        )
        assert services[name]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        (container,) = pod["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"cityloop_{name}"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"http": int(settings["CITYLOOP_HTTP_PORT"])}
        for probe, path in [
            ("startup", "/health"),
            ("liveness", "/health"),
            ("readiness", "/ready"),
        ]:
            assert container[f"{probe}Probe"]["httpGet"] == {"path": path, "port": "http"}, name
        assert pod["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": settings["CITYLOOP_HTTP_PORT"],
            "prometheus.io/path": "/metrics",
        }
        assert services[name]["spec"]["ports"][0]["targetPort"] == "http"

        from_configmap = {ref["configMapRef"]["name"] for ref in container["envFrom"]}
        assert from_configmap == {"cityloop-site"}
        env = {var["name"]: var for var in container["env"]}
        secret = {n for n, var in env.items() if "secretKeyRef" in var.get("valueFrom", {})}
        assert secret == set(env), f"{name}: only secrets are set one by one"
        assert not set(env) & set(settings), f"{name}: a secret shadows a setting"
        given = set(env) | set(settings)
        needed = required if name == "intake" else required - {"CITYLOOP_OPEN311_API_KEYS"}
        assert needed <= given, f"{name} lacks {needed - given}"
        assert {"CITYLOOP_DATABASE_URL", "CITYLOOP_KAFKA_PASSWORD"} <= secret
        # The files the settings name are where the site's Secrets are mounted.
        volumes = {v["name"]: v["secret"]["secretName"] for v in pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        for setting in ("CITYLOOP_AUTH_JWKS_FILE", "CITYLOOP_KAFKA_SSL_CAFILE"):
            assert str(Path(settings[setting]).parent) in mounts, f"{name}: {setting}"

        # What the pod is given parses as the service's settings (secrets stood in for).
        for key, value in {**settings, **{n: f"stand-in-{n}" for n in env}}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CITYLOOP_DATABASE_URL", "postgresql+psycopg://u:secret@db/cityloop")
        monkeypatch.setenv("CITYLOOP_OPEN311_API_KEYS", "k:client")
        parsed = ServiceSettings()
        assert (parsed.site, parsed.mode) == (site, RunMode.PRODUCTION)
        assert parsed.kafka.security_protocol == "SASL_SSL"
        if is_city:
            assert parsed.district_sites == DEMO_DISTRICTS
            trusted = {issuer.issuer for issuer in parsed.auth.trusted}
            assert trusted == {f"cityloop:{d}" for d in parsed.district_sites}
            clusters = SyncSettings()
            assert all(clusters.bootstrap_of(d, "") for d in parsed.district_sites)
        else:
            assert [issuer.sites for issuer in parsed.auth.trusted] == [("370200",)]
