"""Deployment files: docker-compose.yml against the Compose specification's schema, the Dockerfile
through hadolint, one install command for CI and the image, every Compose variable in .env.example,
and the one-shot Odoo init refusing placeholder secrets. No Docker engine is needed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# ${VAR}, ${VAR:-default}, ${VAR:?message}; $$ is a literal dollar
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")
PLACEHOLDER = "change-me"


def tool(name: str) -> str:
    """A test tool from the `test` extra: next to this Python first, then on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        if CI:
            pytest.fail(f"{name} is missing: install the test extra (tools/install.sh test)")
        pytest.skip(f"{name} not installed (tools/install.sh test)")
    return found


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not NAME=value"
            values[name.strip()] = value.strip()
    return values


def test_compose_file_matches_the_compose_specification():
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             str(COMPOSE)], capture_output=True, text=True)
    if result.returncode != 0 and "No module named check_jsonschema" in result.stderr:
        tool("check-jsonschema")   # fails in CI, skips elsewhere
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint():
    result = subprocess.run([tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_and_the_image_install_with_the_same_script():
    ci = (ROOT / ".ci" / "run").read_text()
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^tools/install\.sh test\b", ci, re.M), ".ci/run must install with tools/install.sh test"
    for name, text in ((".ci/run", ci), ("Dockerfile", dockerfile)):
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        assert "pip install" not in code, f"{name} installs with pip itself: use tools/install.sh"
    install = (ROOT / "tools" / "install.sh").read_text()
    assert re.search(r"^RUN python -m venv /opt/relay \\\n    && tools/install.sh$", dockerfile, re.M), \
        "the image installs with tools/install.sh and no argument: the wheel, not editable"
    image_branch = install.split('\n  "")', 1)[1].split(";;", 1)[0]
    assert "pip wheel" in image_branch and "-e" not in image_branch.split()
    assert "COPY --from=build /opt/relay /opt/relay" in dockerfile
    runtime = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "COPY . " not in runtime, "the image's last stage holds the installed relay only, no source tree"


def test_the_image_serves_the_default_port_and_the_widget():
    dockerfile = DOCKERFILE.read_text()
    default_port = next(s.default for s in SETTINGS if s.name == "listen").rpartition(":")[2]
    assert re.search(rf"^EXPOSE {default_port}$", dockerfile, re.M)
    assert f"RELAY_LISTEN=0.0.0.0:{default_port}" in dockerfile
    assert re.search(r"^USER \d+:\d+$", dockerfile, re.M), "the relay runs as a numeric non-root user"
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "/healthz" in dockerfile.split("HEALTHCHECK", 1)[1]
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for needed in ("proxy", "tools", "widget", "client", "pyproject.toml", "README.md"):   # what the image needs
        assert needed not in ignored, needed


def test_every_compose_variable_is_in_env_example_with_a_placeholder_for_secrets():
    used = set(COMPOSE_VAR.findall(COMPOSE.read_text()))
    example = env_example()
    assert used - set(example) == set(), "variables docker-compose.yml uses but .env.example lacks"
    assert set(example) - used == set(), ".env.example has variables docker-compose.yml does not use"
    for name, value in example.items():
        assert value, f".env.example: {name} has no value"
        if re.search(r"PASSWORD|SECRET", name):
            assert PLACEHOLDER in value, f".env.example: {name} must be a {PLACEHOLDER} placeholder"


def test_compose_sets_only_relay_settings_that_exist():
    names = set(re.findall(r"\bRELAY_[A-Z_]+[A-Z]\b", COMPOSE.read_text() + DOCKERFILE.read_text()))
    assert names - {s.env for s in SETTINGS} == set()


def test_odoo_init_refuses_the_placeholder_secrets(tmp_path):
    env = {"PATH": os.environ["PATH"], "PASSWORD": "db-password", "ODOO_ADMIN_PASSWORD": "admin-password",
           "RELAY_WEBHOOK_SECRET": "whsec_c2VjcmV0", "RELAY_SECRET": "token-key"}
    for name, placeholder in (("PASSWORD", env_example()["POSTGRES_PASSWORD"]),
                              ("ODOO_ADMIN_PASSWORD", env_example()["ODOO_ADMIN_PASSWORD"]),
                              ("RELAY_WEBHOOK_SECRET", env_example()["RELAY_WEBHOOK_SECRET"]),
                              ("RELAY_SECRET", env_example()["RELAY_SECRET"]),
                              ("RELAY_SECRET", "")):
        result = subprocess.run(["bash", str(ROOT / "docker" / "odoo-init.sh")], env=dict(env, **{name: placeholder}),
                                capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert f"{name} is empty or still the placeholder" in result.stderr


def test_odoo_init_points_the_addon_at_the_relays_webhook_route():
    from proxy.app import make_app
    from proxy.config import Settings

    compose = COMPOSE.read_text()
    url = re.search(r"WEBHOOK_URL: (\S+)", compose).group(1)
    assert url.startswith("http://relay:8080/")
    path = url.split("8080", 1)[1]
    routes = {r.resource.canonical for r in make_app(Settings()).router.routes() if r.method == "POST"}
    assert path in routes
    # the init script reads exactly these
    init = (ROOT / "docker" / "odoo-init.py").read_text()
    for name in ("WEBHOOK_URL", "RELAY_WEBHOOK_SECRET", "RELAY_ODOO_LIVECHAT_CHANNEL_ID", "ODOO_ADMIN_PASSWORD"):
        assert f'"{name}"' in init
        assert re.search(rf"^\s+{name}:", compose, re.M), f"odoo-init does not get {name}"


def test_the_second_relay_node_refuses_a_store_it_cannot_share():
    compose = COMPOSE.read_text()
    node = compose.split("\n  relay-2:\n", 1)[1]
    assert 'case "$$RELAY_STORE" in redis://*) exec python -m proxy' in node
    assert 'profiles: ["scale"]' in node
