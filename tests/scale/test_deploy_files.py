"""The deployment recipes in deploy/: the compose file parses and wires a Chroma server, app replicas and a
sticky proxy together; the plain-process script is valid bash. (docker does not run here, so the compose
file is checked as YAML and by what it says, not by `docker compose config`.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REQUIREMENTS = DEPLOY.parent / "requirements.txt"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def _nginx() -> str:
    return (DEPLOY / "nginx.conf").read_text(encoding="utf-8")


def _pinned(package: str) -> str:
    line = next(ln for ln in REQUIREMENTS.read_text(encoding="utf-8").splitlines() if ln.startswith(package + "=="))
    return line.split("==", 1)[1].strip()


def test_compose_has_a_chroma_server_app_replicas_and_a_proxy(compose):
    services = compose["services"]
    assert {"chroma", "app", "proxy"} <= set(services)
    assert services["app"]["deploy"]["replicas"] >= 2
    assert "app" in services["proxy"]["depends_on"]
    assert "chroma" in services["app"]["depends_on"]


def test_the_chroma_server_runs_the_client_version(compose):
    image = compose["services"]["chroma"]["image"]
    assert image.split(":", 1)[1] == _pinned("chromadb"), "client and server versions must agree"


def test_apps_point_at_the_shared_server_and_keep_local_state_apart(compose):
    env = compose["services"]["app"]["environment"]
    assert env["DONGXUN_CHROMA_HOST"] == "chroma"
    assert env["DONGXUN_CHROMA_PORT"] == "8000"
    assert env["DONGXUN_KB_DIR"].startswith("/")
    # The one-off ingest writes into the same shared server.
    assert compose["services"]["ingest"]["environment"]["DONGXUN_CHROMA_HOST"] == "chroma"
    assert compose["services"]["ingest"]["entrypoint"][:3] == ["python", "-m", "ingest"]


def test_the_app_command_listens_where_the_proxy_sends(compose):
    command = compose["services"]["app"]["command"]
    assert command[:3] == ["python", "-m", "bot.app"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert f"server app:{port}" in _nginx()
    assert port in [str(p) for p in compose["services"]["app"]["expose"]]


def test_the_proxy_mounts_the_config_beside_it_and_uses_it(compose):
    volumes = compose["services"]["proxy"]["volumes"]
    mounted = [v.split(":")[0] for v in volumes]
    assert "./nginx.conf" in mounted
    assert (DEPLOY / "nginx.conf").is_file()
    build = compose["x-app"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve().is_file()


def test_nginx_keeps_sessions_sticky_and_streams():
    conf = _nginx()
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", conf, re.S)
    assert upstream is not None
    name, body = upstream.groups()
    assert re.search(r"^\s*(ip_hash|hash\s+\S+)", body, re.M), "Gradio sessions need a sticky upstream"
    assert f"proxy_pass http://{name};" in conf
    assert "proxy_buffering off;" in conf  # answers stream as server-sent events
    assert conf.count("{") == conf.count("}")


def test_the_llm_service_is_optional_and_reached_by_the_apps_url(compose):
    vllm = compose["services"]["vllm"]
    assert vllm["profiles"] == ["llm"]
    assert "http://vllm:8000/v1" in compose["services"]["app"]["environment"]["DONGXUN_LLM_BASE_URL"]


def test_the_plain_process_script_is_valid_bash():
    script = DEPLOY / "processes.sh"
    assert script.stat().st_mode & 0o111, "deploy/processes.sh must be executable"
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
