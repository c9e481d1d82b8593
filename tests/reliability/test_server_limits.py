"""Issue 17, item 3: one client cannot hold the model. ``max_tokens`` is bounded, a request has a
timeout, a non-streaming request whose client disconnects is cancelled, and a full queue answers
503 with ``Retry-After``. Real uvicorn on loopback; a fake model that takes 20 ms a word."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")
import httpx  # noqa: E402

import pilotfish  # noqa: E402
from pilotfish.server.app import ServerThread, create_app  # noqa: E402


class SlowModel(pilotfish.LanguageModel):
    """20 ms per word; records every word it emitted (to see that a generation stopped)."""

    model_id = "slow"

    def __init__(self, words: int = 200, delay: float = 0.02):
        self.words, self.delay = words, delay
        self.emitted: list[int] = []
        self.lock = threading.Lock()

    def _generate(self, messages, params, *, on_token, logits_processors):
        out = []
        for i in range(min(self.words, params.max_tokens)):
            time.sleep(self.delay)
            piece = f" w{i}"
            out.append(piece)
            with self.lock:
                self.emitted.append(i)
            if on_token:
                on_token(piece)
        return pilotfish.Generation(text="".join(out), completion_tokens=len(out), finish_reason="length")


def _body(max_tokens: int | None = 200, **kw) -> dict:
    body = {"model": "pilotfish", "messages": [{"role": "user", "content": "go"}], **kw}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


def _wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_max_tokens_is_bounded():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(), use_entrypoints=False)
    with ServerThread(create_app(pilot)) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="pilotfish", max_tokens=10**12,
                                           messages=[{"role": "user", "content": "hi"}])
        assert info.value.body["param"] == "max_tokens" and "4096" in info.value.body["message"]
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="pilotfish", max_completion_tokens=4097, stream=True,
                                           messages=[{"role": "user", "content": "hi"}])
        r = client.chat.completions.create(model="pilotfish", max_tokens=4096, messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content == "echo: hi"
    with ServerThread(create_app(pilot, max_tokens_limit=3)) as srv:
        r = httpx.post(srv.base_url + "/v1/chat/completions", json=_body(4))
        assert r.status_code == 400 and "limit is 3" in r.json()["error"]["message"]
        # without max_tokens, the chain's default (256) is capped at the limit
        r = httpx.post(srv.base_url + "/v1/chat/completions", json=_body(None, messages=[
            {"role": "user", "content": "a b c d e f"}]))
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 3


def test_request_timeout_gives_504_and_stops_the_generation():
    slow = SlowModel()
    app = create_app(pilotfish.Pilot(model=slow, use_entrypoints=False), request_timeout=0.5)
    with ServerThread(app) as srv:
        start = time.monotonic()
        r = httpx.post(srv.base_url + "/v1/chat/completions", json=_body(), timeout=30)
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        assert time.monotonic() - start < 3  # not the 4 s the whole answer takes
        assert _wait_until(lambda: app.state.slots.running == 0, 5)  # the slot came back: the run stopped
        stopped_at = len(slow.emitted)
        time.sleep(0.3)
        assert len(slow.emitted) == stopped_at < 60
        # a stream past the deadline ends with an error event (the openai client raises it)
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIError, match="longer than"):
            list(client.chat.completions.create(model="pilotfish", stream=True, max_tokens=200,
                                                messages=[{"role": "user", "content": "go"}]))
        assert app.state.timed_out == 2


def test_non_streaming_client_disconnect_cancels_the_generation():
    slow = SlowModel()
    app = create_app(pilotfish.Pilot(model=slow, use_entrypoints=False))
    with ServerThread(app) as srv:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(srv.base_url + "/v1/chat/completions", json=_body(), timeout=0.5)  # hangs up after 0.5 s
        # the old server generated all 200 words (4 s) for nobody
        assert _wait_until(lambda: app.state.cancelled_requests == 1, 6)
        assert _wait_until(lambda: app.state.slots.running == 0, 5)
        assert len(slow.emitted) < 60
        # the server goes on serving
        r = httpx.post(srv.base_url + "/v1/chat/completions", json=_body(3), timeout=10)
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == " w0 w1 w2"


def test_a_full_queue_answers_503_with_retry_after():
    slow = SlowModel(words=50)  # 1 s an answer
    app = create_app(pilotfish.Pilot(model=slow, use_entrypoints=False), max_concurrent=1, max_queue=1)
    with ServerThread(app) as srv:
        url = srv.base_url + "/v1/chat/completions"

        def post(i: int) -> httpx.Response:
            time.sleep(0.3 * i)  # in this order: running, waiting, refused
            return httpx.post(url, json=_body(50, stream=i == 1), timeout=30)

        with ThreadPoolExecutor(3) as pool:
            first, second, third = pool.map(post, range(3))
        assert third.status_code == 503 and third.json()["error"]["code"] == "server_busy"
        assert int(third.headers["retry-after"]) >= 1
        assert first.status_code == 200 and first.json()["usage"]["completion_tokens"] == 50
        assert second.status_code == 200 and "[DONE]" in second.text  # the waiting stream was served
        # every slot came back; the next request runs at once
        assert _wait_until(lambda: app.state.slots.running == 0 and not app.state.slots.waiting, 5)
        assert httpx.post(url, json=_body(2), timeout=10).status_code == 200
        assert app.state.busy_refusals == 1


def test_a_request_that_times_out_in_the_queue_leaves_it():
    slow = SlowModel(words=50)  # 1 s
    app = create_app(pilotfish.Pilot(model=slow, use_entrypoints=False), max_concurrent=1, max_queue=4,
                     request_timeout=0.4)
    with ServerThread(app) as srv:
        url = srv.base_url + "/v1/chat/completions"
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda i: httpx.post(url, json=_body(50), timeout=30), range(3)))
        assert [r.status_code for r in results] == [504, 504, 504]
        assert _wait_until(lambda: app.state.slots.running == 0 and not app.state.slots.waiting, 5)
        # the waiting ones timed out in the queue (or as soon as they got the slot); every run was stopped
        assert len(slow.emitted) < 40
