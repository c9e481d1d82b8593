"""Issue 17, item 5: a 500 tells the client nothing about the server's files or code. The details
go to the server's log (``pilotfish.server``) under an error id; the client gets that id."""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
import httpx  # noqa: E402

import pilotfish  # noqa: E402
from pilotfish.server.app import ServerThread, create_app  # noqa: E402

# a path the server must never show a client (built here, not a real machine path)
SECRET_DIR = str(Path(tempfile.gettempdir()) / "pilotfish-private-models")
SECRET_PATH = str(Path(SECRET_DIR) / "secret-model.gguf")


class BrokenRetriever(pilotfish.Plugin):
    """Fails the way a missing index file does: the exception names an absolute path."""

    name = "broken-retriever"

    @pilotfish.hookimpl
    def retrieve(self, request, k):
        raise FileNotFoundError(2, "No such file or directory", SECRET_PATH)


class BrokenModel(pilotfish.LanguageModel):
    model_id = "broken"

    def _generate(self, messages, params, *, on_token, logits_processors):
        raise pilotfish.PilotfishError(f"cannot load {SECRET_PATH}: truncated file (llama_model_load at 0x7f00)")


def _error_id(message: str) -> str:
    found = re.search(r"err-[0-9a-f]{16}", message)
    assert found, message
    return found.group(0)


@pytest.mark.parametrize("pilot_kw", [
    {"model": pilotfish.FakeModel(), "plugins": [BrokenRetriever()]},
    {"model": BrokenModel()},
], ids=["plugin-oserror", "model-pilotfish-error"])
def test_500_has_an_error_id_and_no_paths(pilot_kw, caplog):
    pilot = pilotfish.Pilot(use_entrypoints=False, **pilot_kw)
    caplog.set_level(logging.ERROR, logger="pilotfish.server")
    with ServerThread(create_app(pilot)) as srv:
        r = httpx.post(srv.base_url + "/v1/chat/completions", timeout=10,
                       json={"model": "pilotfish", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 500
        error = r.json()["error"]
        assert error["type"] == "server_error"
        for leak in (SECRET_DIR, "secret-model", "FileNotFoundError", "Errno", "0x7f00", "llama_model_load",
                     "Traceback", "broken-retriever"):
            assert leak not in r.text
        error_id = _error_id(error["message"])
        # the stream's error event is just as quiet
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIError) as info:
            list(client.chat.completions.create(model="pilotfish", stream=True,
                                                messages=[{"role": "user", "content": "hi"}]))
        assert SECRET_DIR not in str(info.value) and "secret-model" not in str(info.value)
        stream_id = _error_id(str(info.value))
    # the server's log has the details under each id
    logged = {rec.getMessage() for rec in caplog.records if rec.name == "pilotfish.server"}
    for eid in (error_id, stream_id):
        line = next(m for m in logged if eid in m)
        assert SECRET_PATH in line
