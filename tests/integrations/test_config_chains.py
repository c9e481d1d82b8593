"""Chains configured through entry points: a pilotfish.toml naming plugins by entry-point name
(including ``shout`` from the example third-party package) drives ``pilotfish run``,
``Pilot.from_config`` and ``pilotfish serve`` alike."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

import pilotfish

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
import httpx  # noqa: E402

CONFIG = """
[pilotfish]
model = "fake"
plugins = ["shout"]

[pilotfish.plugin.shout]
suffix = "!!"
"""


@pytest.fixture
def config_file(tmp_path):
    if "shout" not in pilotfish.installed_plugins():
        pytest.skip("the example package is not installed: pip install -e examples/pilotfish-shout")
    path = tmp_path / "pilotfish.toml"
    path.write_text(CONFIG)
    return path


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "pilotfish", *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


def test_from_config_and_cli_run(config_file):
    pilot = pilotfish.Pilot.from_config(config_file)
    assert "shout" in pilot.pm.plugin_names()
    assert pilot.run("hello there").text == "echo: HELLO THERE!!"
    out = _cli("run", "--config", str(config_file), "hello there")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "echo: HELLO THERE!!"


def test_unknown_plugin_in_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "pilotfish.toml"
    bad.write_text('[pilotfish]\nmodel = "fake"\nplugins = ["no-such-plugin"]\n')
    out = _cli("serve", "--config", str(bad), "--port", "0")
    assert out.returncode == 1
    assert "no-such-plugin" in out.stderr and "installed plugins:" in out.stderr and "Traceback" not in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_same_config_drives_pilotfish_serve(config_file):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pilotfish", "serve", "--config", str(config_file), "--port", str(port),
                             "--api-key", "sk-cfg", "--ui"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {proc.stderr.read() if proc.poll() is not None else 'timeout'}")
            time.sleep(0.2)
        client = openai.OpenAI(base_url=base + "/v1", api_key="sk-cfg", max_retries=0)
        r = client.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": "hello"}])
        assert r.choices[0].message.content == "echo: HELLO!!"
        assert {m.id for m in client.models.list()} == {"pilotfish", "fake"}
        assert "pilotfish chat" in httpx.get(base + "/").text
        assert httpx.get(base + "/v1/models").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
