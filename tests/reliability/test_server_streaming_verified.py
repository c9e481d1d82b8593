"""Issue 17, item 2: a streaming client never receives text that verification rejected. With a
verifier or repair plugin the stream is held until the answer has passed; the real ``openai``
client prints exactly the final answer."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
openai = pytest.importorskip("openai")

import pilotfish  # noqa: E402
from pilotfish.core.prompts import is_refusal  # noqa: E402
from pilotfish.plugins.repair import Refuse  # noqa: E402
from pilotfish.server.app import ServerThread, create_app, verification_enabled  # noqa: E402
from pilotfish.verifiers.validators import RegexValidator  # noqa: E402

REJECTED = "The launch code is 0000 and London is the capital of Germany."


def _print_stream(client, **kw) -> tuple[str, list]:
    """What a client program printing the deltas shows its user."""
    chunks = list(client.chat.completions.create(model="pilotfish", stream=True,
                                                 messages=[{"role": "user", "content": "tell me"}], **kw))
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks


def test_stream_shows_the_refusal_not_the_rejected_text():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel([REJECTED]), use_entrypoints=False,
                            plugins=[RegexValidator(pattern="launch code", forbid=True), Refuse()])
    assert verification_enabled(pilot)
    with ServerThread(create_app(pilot)) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        printed, chunks = _print_stream(client)
        final = client.chat.completions.create(model="pilotfish", messages=[{"role": "user", "content": "tell me"}])
    refusal = final.choices[0].message.content
    assert final.model_extra["pilotfish"]["repairs"][0]["action"] == "refuse"  # the verifier did reject it
    assert is_refusal(refusal) and "launch" not in refusal
    assert printed == refusal  # what the user sees is the final answer
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert deltas == [refusal]  # no rejected text in any delta
    last = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert last.model_extra["pilotfish"]["text"] == refusal


def test_stream_of_a_passing_answer_is_the_answer():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(["Paris is the capital of France."]), use_entrypoints=False,
                            plugins=[RegexValidator(pattern="launch code", forbid=True), Refuse()])
    with ServerThread(create_app(pilot)) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        printed, _ = _print_stream(client)
    assert printed == "Paris is the capital of France."


def test_without_verifiers_the_stream_is_token_by_token():
    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(["one two three four five"]), use_entrypoints=False)
    assert not verification_enabled(pilot)
    with ServerThread(create_app(pilot)) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        printed, chunks = _print_stream(client)
    assert printed == "one two three four five"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 5
