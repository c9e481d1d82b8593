"""The OpenAI-compatible server, driven by the real ``openai`` client over loopback (uvicorn on
a free port), and :class:`OpenAIModel` as a pilotfish model over it."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
import httpx  # noqa: E402

import pilotfish  # noqa: E402
from pilotfish.models.openai import OpenAIModel  # noqa: E402
from pilotfish.server.app import ServerThread, create_app  # noqa: E402


class SlowModel(pilotfish.LanguageModel):
    """A fake model that takes 20 ms per word: long enough to disconnect mid-stream."""

    model_id = "slow"

    def __init__(self, words: int = 200):
        self.words = words
        self.emitted: list[int] = []

    def _generate(self, messages, params, *, on_token, logits_processors):
        out = []
        for i in range(min(self.words, params.max_tokens)):
            time.sleep(0.02)
            piece = f" w{i}"
            out.append(piece)
            if on_token:
                try:
                    on_token(piece)
                finally:
                    self.emitted.append(i)
        return pilotfish.Generation(text="".join(out), completion_tokens=len(out), finish_reason="length")


@pytest.fixture(scope="module")
def server(fake_rag_pilot):
    app = create_app(fake_rag_pilot, max_body_bytes=20_000)
    with ServerThread(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)


def test_chat_completion_carries_citations_verdicts_and_route(client):
    r = client.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": "mobile phones"}])
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "echo: mobile phones"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    extra = r.model_extra["pilotfish"]
    assert extra["route"]["model"] == "fake"
    assert [c["index"] for c in extra["citations"]] == [1, 2]
    assert all(c["text"] and c["retriever"] == "test-minilm" for c in extra["citations"])
    assert extra["verdicts"] and extra["verdicts"][0]["verifier"] == "test-claims"
    assert {e["hook"] for e in extra["trace"]} >= {"retrieve", "generate", "verify"}


def test_streaming_sse(client):
    stream = client.chat.completions.create(model="pilotfish", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "one two three four"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four"
    # the chain has a verifier: the stream is held until the answer passed, then sent as one delta
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 1
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert final and final[-1].model_extra["pilotfish"]["citations"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_streaming_without_verifiers_is_token_by_token():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(), use_entrypoints=False)
    with ServerThread(create_app(pilot)) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        chunks = list(client.chat.completions.create(model="pilotfish", stream=True,
                                                     messages=[{"role": "user", "content": "one two three four"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: one two three four"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 5  # word by word


def test_models_and_health(server, client):
    ids = {m.id for m in client.models.list()}
    assert ids == {"pilotfish", "fake"}
    r = httpx.get(server.base_url + "/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_logprobs_pass_through(client):
    r = client.chat.completions.create(model="pilotfish", logprobs=True,
                                       messages=[{"role": "user", "content": "hello"}])
    lps = r.choices[0].logprobs.content
    assert [t.token for t in lps] == ["echo:", "hello"] and lps[0].logprob == pytest.approx(-0.1)


def _error(resp: httpx.Response) -> dict:
    body = resp.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    return body["error"]


def test_bad_input_gets_openai_style_errors(server, client):
    url = server.base_url + "/v1/chat/completions"
    r = httpx.post(url, content=b'{"model": "pilotfish", "messages": [', headers={"content-type": "application/json"})
    assert r.status_code == 400 and _error(r)["code"] == "invalid_json"
    r = httpx.post(url, json={"model": "pilotfish"})
    assert r.status_code == 400 and _error(r)["param"] == "messages"
    r = httpx.post(url, json={"model": "pilotfish", "messages": [{"role": "tool", "content": "x"}]})
    assert r.status_code == 400 and "role" in _error(r)["message"]
    r = httpx.post(url, json={"model": "pilotfish", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0})
    assert r.status_code == 400 and _error(r)["param"] == "max_tokens"
    r = httpx.post(url, json={"model": "pilotfish", "messages": [{"role": "user", "content": "  "}]})
    assert r.status_code == 400 and "empty" in _error(r)["message"]
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404 and info.value.body["code"] == "model_not_found"
    big = "x" * 30_000
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": big}])
    assert info.value.status_code == 413
    r = httpx.get(server.base_url + "/v1/nothing")
    assert r.status_code == 404 and _error(r)["code"] == "not_found"


def test_bearer_key():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(), use_entrypoints=False)
    with ServerThread(create_app(pilot, api_key="sk-right")) as srv:
        wrong = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as info:
            wrong.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 401 and info.value.body["code"] == "invalid_api_key"
        assert httpx.get(srv.base_url + "/v1/models").status_code == 401
        assert httpx.get(srv.base_url + "/health").status_code == 200
        right = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-right", max_retries=0)
        r = right.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content == "echo: hi"


def test_concurrent_requests_do_not_mix(client):
    questions = [f"question number {i} about topic {i * 7}" for i in range(24)]

    def ask(q: str) -> tuple[str, str, str]:
        if int(q.split()[2]) % 2:
            s = client.chat.completions.create(model="pilotfish", stream=True, messages=[{"role": "user", "content": q}])
            chunks = list(s)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
            return q, text, final.model_extra["pilotfish"]["text"]
        r = client.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": q}])
        return q, r.choices[0].message.content, r.model_extra["pilotfish"]["text"]

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(ask, questions))
    for q, text, extra_text in results:
        assert text == f"echo: {q}" == extra_text


def test_client_disconnect_mid_stream_stops_generation_and_others_are_served():
    slow = SlowModel()
    pilot = pilotfish.Pilot(model=slow, use_entrypoints=False)
    app = create_app(pilot)
    with ServerThread(app) as srv:
        url = srv.base_url + "/v1/chat/completions"
        body = {"model": "pilotfish", "stream": True, "max_tokens": 200, "messages": [{"role": "user", "content": "go"}]}
        with httpx.stream("POST", url, json=body, timeout=10) as resp:
            got = 0
            for line in resp.iter_lines():
                if line.startswith("data: {") and '"content": " w' in line:
                    got += 1
                    if got == 3:
                        break  # hang up mid-stream
        # another client is served normally while (and after) the first one went away
        other = threading.Thread(target=lambda: httpx.post(url, json={**body, "stream": False, "max_tokens": 5}, timeout=20))
        other.start()
        deadline = time.monotonic() + 10
        while app.state.cancelled_streams < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        other.join()
        r = httpx.post(url, json={**body, "stream": False, "max_tokens": 5}, timeout=20)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == " w0 w1 w2 w3 w4"
        assert app.state.cancelled_streams == 1
        assert app.state.active_streams == 0
    # the hung-up generation stopped early instead of running to 200 words
    assert len(slow.emitted) < 100


def test_openai_model_over_a_pilotfish_server(server):
    model = pilotfish.get_model(f"openai:pilotfish@{server.base_url}/v1")
    assert isinstance(model, OpenAIModel) and model.model_id.startswith("openai:pilotfish@")
    chain = pilotfish.Pilot(model=model, use_entrypoints=False)
    answer = chain.run("alpha beta")
    assert answer.text == "echo: alpha beta"  # the remote chain answered (it echoes the question)
    assert answer.generation.logprobs == pytest.approx([-0.1, -0.1, -0.1])
    assert answer.generation.metadata["pilotfish"]["citations"]
    assert answer.usage.models[model.model_id].completion_tokens == 3
    stream = chain.stream("gamma delta")
    assert "".join(stream) == "echo: gamma delta"
    with pytest.raises(pilotfish.ModelError, match="cannot reach"):
        OpenAIModel("x", base_url="http://127.0.0.1:9/v1", max_retries=0).generate("hi")


def test_openai_model_errors(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("PILOTFISH_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("PILOTFISH_OPENAI_BASE_URL", raising=False)
    with pytest.raises(pilotfish.ModelError, match="no API key"):
        OpenAIModel("gpt-4o-mini")
    with pytest.raises(pilotfish.ModelError, match="base URL"):
        OpenAIModel.from_id("m@ftp://x")


@pytest.mark.real
def test_real_small_model_served(smollm2):
    pilot = pilotfish.Pilot(model="smollm2-135m", use_entrypoints=False)
    with ServerThread(create_app(pilot)) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        r = client.chat.completions.create(model="smollm2-135m", max_tokens=8, temperature=0,
                                           messages=[{"role": "user", "content": "What is the capital of France?"}])
        direct = smollm2.generate("What is the capital of France?", max_tokens=8)
        assert r.choices[0].message.content == direct.text  # greedy: the served answer is the model's own
        assert r.usage.completion_tokens == direct.completion_tokens
        s = client.chat.completions.create(model="smollm2-135m", max_tokens=8, stream=True,
                                           messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert "".join(c.choices[0].delta.content or "" for c in s if c.choices) == direct.text
        raw = httpx.post(srv.base_url + "/v1/chat/completions", timeout=60, json={
            "model": "smollm2-135m", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}).json()
        assert json.dumps(raw)  # plain JSON all the way down
