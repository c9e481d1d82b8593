"""The host's own logic, on the deterministic fake model."""

from __future__ import annotations

import asyncio

import pytest

import pilotfish
from pilotfish import Document, Generation, RepairResult, Request, Route, Verdict, hookimpl


class Recorder:
    """Implements every pipeline hook and records the order they fire in."""

    name = "recorder"

    def __init__(self):
        self.calls: list[str] = []

    @hookimpl
    def before_prompt(self, request):
        self.calls.append("before_prompt")

    @hookimpl
    def route(self, request):
        self.calls.append("route")

    @hookimpl
    def retrieve(self, request, k):
        self.calls.append("retrieve")
        return [Document("d1", "Paris is the capital of France.")]

    @hookimpl
    def rerank(self, request, documents, k):
        self.calls.append("rerank")

    @hookimpl
    def build_messages(self, request, documents):
        self.calls.append("build_messages")

    @hookimpl
    def generate(self, request, messages, model):
        self.calls.append("generate")

    @hookimpl
    def verify(self, request, text, documents):
        self.calls.append("verify")
        return [Verdict("recorder", passed=False, label="fail", claim=text)]

    @hookimpl
    def repair(self, request, text, verdicts, round):
        self.calls.append(f"repair{round}")


def test_hooks_fire_in_the_documented_order(make_pilot):
    rec = Recorder()
    answer = make_pilot(rec, max_repair_rounds=2).run("What is the capital of France?")
    assert rec.calls == [
        "before_prompt", "route", "retrieve", "rerank", "build_messages", "generate", "verify", "repair1",
    ]
    # nobody repaired, so the loop stopped after one round
    assert answer.repairs == []
    hooks_in_trace = [e.hook for e in answer.trace]
    assert hooks_in_trace.index("route") < hooks_in_trace.index("retrieve") < hooks_in_trace.index("generate")


def test_answer_carries_documents_route_usage_and_trace(make_pilot, fake_model):
    answer = make_pilot(Recorder()).run("What is the capital of France?")
    assert answer.text == "echo: What is the capital of France?"
    assert [d.id for d in answer.documents] == ["d1"]
    assert answer.route == Route(model="fake", reason="default model", plugin="core")
    usage = answer.usage.models["fake"]
    assert usage.calls == 1 and usage.completion_tokens == 7 and usage.prompt_tokens > 0
    assert answer.generation.logprobs == [-0.1] * 7
    plugins = {(e.hook, e.plugin) for e in answer.trace}
    assert ("generate", "core") in plugins and ("generate", "recorder") in plugins
    assert all(e.duration_s >= 0 for e in answer.trace)
    # the passages are numbered for citation in a user turn of their own (data, not instructions), the
    # question follows; the system message only instructs
    system, sources, question = fake_model.calls[-1][-3:]
    assert system["role"] == "system" and "cite the sources" in system["content"] and "Paris" not in system["content"]
    assert sources == {"role": "user", "content": "<sources>\n[1] (d1) Paris is the capital of France.\n</sources>"}
    assert question["role"] == "user"


def test_firstresult_hooks_stop_at_the_first_answer(make_pilot):
    class Router:
        @hookimpl
        def route(self, request):
            return Route(model="fake", reason="router says so", plugin="router")

    class Gen:
        @hookimpl
        def generate(self, request, messages, model):
            return Generation(text="from plugin", model="x")

    answer = make_pilot(Router(), Gen()).run("hi")
    assert answer.text == "from plugin"
    assert answer.route.reason == "router says so"
    # the built-in fallbacks (trylast) never ran
    assert ("generate", "core") not in {(e.hook, e.plugin) for e in answer.trace}
    assert ("route", "core") not in {(e.hook, e.plugin) for e in answer.trace}


def test_retrieve_results_are_collected_and_fused(make_pilot):
    class A:
        name = "a"

        @hookimpl
        def retrieve(self, request, k):
            return [Document("x", "x"), Document("y", "y"), Document("z", "z")]

    class B:
        name = "b"

        @hookimpl
        def retrieve(self, request, k):
            return [Document("y", "y"), Document("w", "w")]

    docs = make_pilot(A(), B(), top_k=3).retrieve("q")
    assert [d.id for d in docs] == ["y", "x", "w"]  # y is in both lists
    assert docs[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_zscore_fusion_keeps_score_gaps(make_pilot):
    class A:
        name = "a"

        @hookimpl
        def retrieve(self, request, k):  # x far ahead of y and z
            return [Document("x", "x", score=10.0), Document("y", "y", score=1.0), Document("z", "z", score=0.9)]

    class B:
        name = "b"

        @hookimpl
        def retrieve(self, request, k):  # y only just ahead of x
            return [Document("y", "y", score=0.51), Document("x", "x", score=0.50), Document("w", "w", score=0.3),
                    Document("v", "v", score=0.1)]

    rrf = make_pilot(A(), B(), top_k=4).retrieve("q")
    assert rrf[0].id in {"x", "y"} and rrf[0].score == pytest.approx(rrf[1].score)  # ranks alone: a tie
    fused = make_pilot(A(), B(), top_k=5, config=pilotfish.PilotConfig(fusion="zscore")).retrieve("q")
    assert [d.id for d in fused][:2] == ["x", "y"] and fused[0].retriever == "fusion"
    # a document missing from a list gets that list's lowest z-score: w (missing from A, above the
    # bottom of B) outranks z (the bottom of A, missing from B)
    assert [d.id for d in fused][2] == "w"
    assert fused[0].metadata["retriever_score"] in (10.0, 0.5)
    from pilotfish.core.config import parse_config

    with pytest.raises(pilotfish.ConfigError, match="fusion"):
        parse_config({"fusion": "borda"})


def test_repeated_passages_are_dropped_before_rerank(make_pilot):
    class A:
        name = "a"

        @hookimpl
        def retrieve(self, request, k):  # the same article filed twice, as the BBC corpus does
            return [Document("t/1#0", "Same  text.", "t/1"), Document("t/9#0", "Same text.", "t/9"),
                    Document("t/2#0", "Other text.", "t/2")]

    seen = []

    class R:
        @hookimpl
        def rerank(self, request, documents, k):
            seen.extend(d.id for d in documents)

    docs = make_pilot(A(), R(), top_k=3).retrieve("q")
    assert [d.id for d in docs] == ["t/1#0", "t/2#0"] and seen == ["t/1#0", "t/2#0"]
    assert docs[0].metadata["duplicates"] == ["t/9#0"] and "duplicates" not in docs[1].metadata
    kept = make_pilot(A(), top_k=3, config=pilotfish.PilotConfig(dedupe=False)).retrieve("q")
    assert len(kept) == 3


def test_rerank_orders_the_fused_candidates(make_pilot):
    class R:
        @hookimpl
        def retrieve(self, request, k):
            return [Document(str(i), f"doc {i}") for i in range(5)]

        @hookimpl
        def rerank(self, request, documents, k):
            return sorted(documents, key=lambda d: -int(d.id))[:k]

    assert [d.id for d in make_pilot(R(), top_k=2).retrieve("q")] == ["4", "3"]


def test_before_prompt_is_chained(make_pilot, fake_model):
    class Upper:
        name = "upper"

        @hookimpl(tryfirst=True)
        def before_prompt(self, request):
            return request.replace(question=request.question.upper())

    class Exclaim:
        name = "exclaim"

        @hookimpl
        def before_prompt(self, request):
            return request.replace(question=request.question + "!")

    class Keep:
        @hookimpl(trylast=True)
        def before_prompt(self, request):
            assert request.question == "HELLO!"  # saw both previous results
            return None

    answer = make_pilot(Keep(), Exclaim(), Upper()).run("hello")
    assert answer.text == "echo: HELLO!"
    assert answer.request.question == "HELLO!"


def test_repair_rounds_are_bounded(make_pilot):
    class AlwaysFail:
        @hookimpl
        def verify(self, request, text):
            return [Verdict("always", passed=False, label="fail", claim=text)]

    class Fixer:
        name = "fixer"

        @hookimpl
        def repair(self, request, text, verdicts, round):
            return RepairResult(text=f"{text} (fix {round})", action="rewrite")

    answer = make_pilot(AlwaysFail(), Fixer(), max_repair_rounds=3).run("q")
    assert [r.round for r in answer.repairs] == [1, 2, 3]
    assert answer.text == "echo: q (fix 1) (fix 2) (fix 3)"
    assert answer.repairs[0].plugin == "fixer" and answer.repairs[0].before == "echo: q"
    assert not answer.passed
    assert make_pilot(AlwaysFail(), Fixer()).run("q").text.count("fix") == 2  # default: 2 rounds
    assert make_pilot(AlwaysFail(), Fixer(), max_repair_rounds=0).run("q").repairs == []


def test_repair_stops_when_verdicts_pass(make_pilot):
    class FailUnlessFixed:
        @hookimpl
        def verify(self, text):
            return [Verdict("v", passed="fixed" in text)]

    class Fixer:
        @hookimpl
        def repair(self, text):
            return RepairResult(text="fixed", action="rewrite")

    answer = make_pilot(FailUnlessFixed(), Fixer(), max_repair_rounds=5).run("q")
    assert len(answer.repairs) == 1 and answer.passed and answer.text == "fixed"


class Broken:
    name = "broken"

    @hookimpl
    def retrieve(self, request):
        raise ValueError("index missing")


def test_a_failing_plugin_is_named_with_its_hook(make_pilot):
    with pytest.raises(pilotfish.PluginError) as info:
        make_pilot(Broken()).run("q")
    assert info.value.plugin == "broken" and info.value.hook == "retrieve"
    assert "plugin 'broken' in hook 'retrieve': ValueError: index missing" in str(info.value)


def test_on_error_skip_records_the_failure_and_goes_on(make_pilot):
    answer = make_pilot(Broken(), options={"broken": {"on_error": "skip"}}).run("q")
    assert answer.text == "echo: q"
    event = next(e for e in answer.trace if e.plugin == "broken")
    assert event.status == "skipped-error" and "index missing" in event.error
    # the global policy works too
    assert make_pilot(Broken(), on_error="skip").run("q").text == "echo: q"


def test_async_hook_implementations_are_awaited(make_pilot):
    class AsyncGen:
        @hookimpl
        async def generate(self, request):
            await asyncio.sleep(0)
            return Generation(text="async answer")

    pilot = make_pilot(AsyncGen())
    assert pilot.run("q").text == "async answer"
    assert asyncio.run(pilot.arun("q")).text == "async answer"


def test_batch_keeps_order_and_stream_yields_tokens(make_pilot):
    pilot = make_pilot()
    answers = pilot.batch([f"q{i}" for i in range(6)], max_concurrency=3)
    assert [a.text for a in answers] == [f"echo: q{i}" for i in range(6)]
    stream = pilot.stream("one two three")
    chunks = list(stream)
    assert chunks == ["echo:", " one", " two", " three"]
    assert stream.answer.text == "".join(chunks)


def test_chat_messages_and_generation_params(make_pilot, fake_model):
    pilot = make_pilot()
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": "second question here"},
    ]
    answer = pilot.run(messages, max_tokens=2)
    assert answer.text == "echo: second"
    assert answer.generation.finish_reason == "length"
    assert fake_model.calls[-1] == messages
    assert pilot.run("a b STOP c", stop=["STOP"]).text == "echo: a b "


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "the question is empty"),
        ("   ", "the question is empty"),
        ([], "no messages given"),
        ([{"role": "robot", "content": "x"}], "unknown role 'robot'"),
        ([{"role": "assistant", "content": "x"}], "last user message is empty or missing"),
    ],
)
def test_bad_input_is_a_clear_error(make_pilot, bad, message):
    with pytest.raises(pilotfish.InputError, match=message):
        make_pilot().run(bad)


def test_bad_generation_params(make_pilot):
    with pytest.raises(pilotfish.PluginError, match="max_tokens must be a positive integer"):
        make_pilot().run("q", max_tokens=0)


def test_context_overflow_is_a_clear_error(make_pilot):
    with pytest.raises(pilotfish.PluginError, match="ContextLengthError: the prompt is 5000 tokens; fake accepts 4096"):
        make_pilot().run("word " * 5000)


def test_request_replace_is_a_copy():
    r = Request(question="a")
    r2 = r.replace(query="b")
    assert r.search_query == "a" and r2.search_query == "b"


def test_a_system_message_in_the_conversation_reaches_the_model():
    """A LangChain prompt's SystemMessage (sources, instructions) used to be dropped on the way."""
    from pilotfish import FakeModel, Pilot

    model = FakeModel(["ok"])
    pilot = Pilot(model=model, use_entrypoints=False)
    pilot.run([{"role": "system", "content": "Sources: [1] Acme employs 50,000 people."},
               {"role": "user", "content": "How many people does Acme employ?"}])
    sent = model.calls[-1]
    assert sent[0] == {"role": "system", "content": "Sources: [1] Acme employs 50,000 people."}
    pilot.run([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], system="be brief")
    assert model.calls[-1][0]["content"] == "be brief"  # given twice, said once


def test_preload_loads_the_default_model_in_the_background_and_defers_its_errors() -> None:
    from pilotfish.core.models import loaded_models

    pilot = pilotfish.Pilot(model="fake", use_entrypoints=False)
    thread = pilot.preload()
    assert thread is not None and thread.daemon
    thread.join(30)
    assert "fake" in loaded_models()
    assert pilotfish.Pilot(model=pilotfish.FakeModel(), use_entrypoints=False).preload() is None  # already an object
    broken = pilotfish.Pilot(model="no-such-model", use_entrypoints=False)
    t = broken.preload()
    assert t is not None
    t.join(30)  # the failure is not raised in the thread...
    with pytest.raises(pilotfish.ModelNotFoundError):  # ...but where the model is used
        broken.run("hello")
