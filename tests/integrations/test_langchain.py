"""The LangChain adapter beyond the standard suites: LangChain models under pilotfish plugins,
pilotfish chains in LCEL, the callback bridge, retrieval and verification in an existing chain,
and clear errors."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core")

from langchain_core.callbacks import BaseCallbackHandler  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.runnables import RunnablePassthrough  # noqa: E402

import pilotfish  # noqa: E402
from pilotfish.adapters.langchain import (  # noqa: E402
    LangChainModel,
    PilotChatModel,
    PilotRetriever,
    PilotRunnable,
    PilotVerifier,
    load_langchain_model,
)


class Recorder(BaseCallbackHandler):
    def __init__(self):
        self.events: list[tuple[str, dict]] = []
        self.tokens: list[str] = []

    def on_custom_event(self, name, data, *, run_id, tags=None, metadata=None, **kwargs):
        self.events.append((name, data))

    def on_llm_new_token(self, token, **kwargs):
        self.tokens.append(token)


class Upper(pilotfish.Plugin):
    name = "upper"

    @pilotfish.hookimpl
    def before_prompt(self, request):
        return request.replace(question=request.question.upper())


def test_langchain_model_under_pilotfish_plugins():
    seen = []

    def reply(messages):
        seen.append(messages)
        return "paris is the capital"

    lc = GenericFakeChatModel(messages=iter([AIMessage("Paris is the capital."), AIMessage("Streamed answer here.")]))
    model = LangChainModel(lc)
    pilot = pilotfish.Pilot(model=model, plugins=[Upper()], use_entrypoints=False)
    answer = pilot.run("what is the capital of france?")
    assert answer.text == "Paris is the capital."
    assert answer.route.model == "langchain:GenericFakeChatModel"
    assert answer.usage.models["langchain:GenericFakeChatModel"].calls == 1
    stream = pilot.stream("again")
    chunks = list(stream)
    assert len(chunks) > 1 and "".join(chunks) == "Streamed answer here."
    # stop sequences are applied to what the LangChain model returned
    lc2 = FakeListChatModel(responses=["alpha beta. gamma"])
    assert LangChainModel(lc2).generate("x", stop=["."]).text == "alpha beta"


def test_langchain_model_ids():
    model = pilotfish.get_model("langchain:pf_integration_helpers:FAKE_CHAT_FACTORY")
    assert isinstance(model, LangChainModel)
    assert model.generate("hi").text.startswith("The Commons vote")
    with pytest.raises(pilotfish.ModelError, match="cannot import"):
        load_langchain_model("no_such_module_xyz:Chat")
    with pytest.raises(pilotfish.ModelError, match="no attribute"):
        load_langchain_model("pf_integration_helpers:NOPE")
    with pytest.raises(pilotfish.ModelError, match="not a LangChain chat model"):
        load_langchain_model("pf_integration_helpers:TOPICS")
    with pytest.raises(pilotfish.ModelError, match="BaseChatModel"):
        LangChainModel("not a model")


def test_pilot_chat_model_over_a_langchain_model_adds_retrieval(retriever_plugin):
    lc = FakeListChatModel(responses=["Mobile phones sell well [1]."])
    chat = PilotChatModel(model=lc, plugins=[retriever_plugin], options=None)
    rec = Recorder()
    msg = chat.invoke([SystemMessage("be brief"), HumanMessage("mobile phone sales")], config={"callbacks": [rec]})
    assert msg.content == "Mobile phones sell well [1]."
    meta = msg.response_metadata["pilotfish"]
    assert len(meta["citations"]) == 5 and meta["citations"][0]["retriever"] == "test-minilm"
    assert meta["route"]["model"] == "langchain:FakeListChatModel"
    # the callback bridge: every hook call of the run, then the answer
    hooks = [d["hook"] for n, d in rec.events if n == "pilotfish.hook"]
    assert hooks[:2] == ["route", "retrieve"] and "generate" in hooks
    assert rec.events[-1][0] == "pilotfish.answer" and rec.events[-1][1]["citations"]


def test_pilot_chat_model_batch_stream_ainvoke_and_events(fake_rag_pilot):
    chat = PilotChatModel(pilot=fake_rag_pilot)
    out = chat.batch(["first question", "second question", "third question"])
    assert [m.content for m in out] == ["echo: first question", "echo: second question", "echo: third question"]
    rec = Recorder()
    chunks = list(chat.stream("a b c", config={"callbacks": [rec]}))
    assert "".join(c.content for c in chunks) == "echo: a b c"
    assert [t for t in rec.tokens if t] == ["echo:", " a", " b", " c"]
    assert chunks[-1].usage_metadata["output_tokens"] == 4
    assert asyncio.run(chat.ainvoke("async one")).content == "echo: async one"

    async def events():
        return [e async for e in chat.astream_events("evented", version="v2")]

    # LangChain's implicit streaming path (astream_events on a chat model) gives the model no run
    # manager, so there the trace rides in the end event's response_metadata
    evs = asyncio.run(events())
    end = next(e for e in evs if e["event"] == "on_chat_model_end")
    assert {t["hook"] for t in end["data"]["output"].response_metadata["pilotfish"]["trace"]} >= {"retrieve", "verify"}

    async def runnable_events():
        return [e async for e in PilotRunnable(fake_rag_pilot).astream_events("evented", version="v2")]

    custom = [e for e in asyncio.run(runnable_events()) if e["event"] == "on_custom_event"]
    assert {e["name"] for e in custom} == {"pilotfish.hook", "pilotfish.answer"}
    assert any(e["data"]["hook"] == "verify" for e in custom if e["name"] == "pilotfish.hook")


def test_pilot_chat_model_errors(fake_rag_pilot):
    chat = PilotChatModel(pilot=fake_rag_pilot)
    with pytest.raises(pilotfish.InputError, match="no tool calling"):
        chat.invoke([HumanMessage("hi"), AIMessage(""), ToolMessage("42", tool_call_id="1")])
    with pytest.raises(pilotfish.InputError, match="only text"):
        chat.invoke([HumanMessage(content=[{"type": "image_url", "image_url": {"url": "http://x/y.png"}}])])
    with pytest.raises(pilotfish.InputError, match="unsupported call arguments"):
        chat.invoke("hi", tools=[1])
    with pytest.raises(pilotfish.InputError, match="must be a pilotfish.Pilot"):
        PilotChatModel(pilot="nope")
    with pytest.raises(pilotfish.InputError, match="k must be"):
        PilotRetriever(pilot=fake_rag_pilot, k=0)


def test_pilot_runnable_in_lcel(fake_rag_pilot):
    prompt = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("human", "{topic} news")])
    chain = prompt | PilotRunnable(fake_rag_pilot) | StrOutputParser()
    assert chain.invoke({"topic": "election"}) == "echo: election news"
    assert "".join(chain.stream({"topic": "football"})) == "echo: football news"
    as_answer = PilotRunnable(fake_rag_pilot, output="answer").invoke({"question": "budget", "max_tokens": 1})
    assert isinstance(as_answer, pilotfish.Answer) and as_answer.text == "echo:" and as_answer.documents
    text = asyncio.run(PilotRunnable(fake_rag_pilot, output="text").ainvoke("async budget"))
    assert text == "echo: async budget"
    assert PilotRunnable(fake_rag_pilot, output="text").batch(["x", "y"]) == ["echo: x", "echo: y"]
    with pytest.raises(pilotfish.InputError, match="needs 'question'"):
        PilotRunnable(fake_rag_pilot).invoke({"nothing": 1})
    with pytest.raises(pilotfish.InputError, match="output must be"):
        PilotRunnable(fake_rag_pilot, output="xml")


def test_existing_rag_chain_gains_pilotfish_retriever_and_verifier(fake_rag_pilot):
    from pf_integration_helpers import MiniLMClaimVerifier

    retriever = PilotRetriever(pilot=fake_rag_pilot, k=2)
    docs = retriever.invoke("tax and the economy")
    assert len(docs) == 2 and all(d.metadata["retriever"] == "test-minilm" for d in docs)
    assert retriever.invoke("tax", k=1)[0].id == docs[0].id
    llm = FakeListChatModel(responses=["Firms expect growth in the economy."])
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")

    def fmt(ds):
        return "\n".join(d.page_content for d in ds)

    verifier = PilotVerifier(pilotfish.Pilot(model="fake", plugins=[MiniLMClaimVerifier(threshold=0.2)],
                                             use_entrypoints=False))
    chain = (
        RunnablePassthrough.assign(documents=lambda x: retriever.invoke(x["question"]))
        | RunnablePassthrough.assign(answer=(lambda x: {"context": fmt(x["documents"]), "question": x["question"]})
                                     | prompt | llm | StrOutputParser())
        | verifier
    )
    out = chain.invoke({"question": "how is the economy doing?"})
    assert out["answer"] == "Firms expect growth in the economy."
    assert out["verdicts"] and out["verdicts"][0]["verifier"] == "test-claims"
    assert out["verdicts"][0]["document_id"] in {d.id for d in out["documents"]}
    with pytest.raises(pilotfish.InputError, match="k must be"):
        retriever.invoke("x", k=0)
    with pytest.raises(pilotfish.InputError, match="empty"):
        retriever.invoke("   ")


@pytest.mark.real
def test_pilot_chat_model_rag_on_the_real_small_model(rag_pilot):
    chat = PilotChatModel(pilot=rag_pilot, max_tokens=6)
    msg = chat.invoke("What did the mobile phone makers report?")
    meta = msg.response_metadata["pilotfish"]
    assert msg.content and msg.content == meta["text"]
    assert len(meta["citations"]) == 2 and meta["verdicts"]
    assert msg.usage_metadata["output_tokens"] <= 6 and msg.usage_metadata["input_tokens"] > 100
    assert msg.response_metadata["model_name"] == "smollm2-135m"


def test_pilot_retriever_fuses_and_reranks(corpus, retriever_plugin):
    from pf_integration_helpers import KeywordRetriever, MiniLMReranker

    fused = pilotfish.Pilot(model="fake", plugins=[retriever_plugin, KeywordRetriever(corpus)], use_entrypoints=False)
    docs = PilotRetriever(pilot=fused, k=3).invoke("British Airways fuel prices profits")
    assert len(docs) == 3 and {d.metadata["retriever"] for d in docs} == {"fusion"}
    assert docs[0].metadata["title"] == "High fuel prices hit BA's profits"
    reranked = pilotfish.Pilot(model="fake", plugins=[retriever_plugin, KeywordRetriever(corpus), MiniLMReranker()],
                               use_entrypoints=False)
    rdocs = PilotRetriever(pilot=reranked, k=2).invoke("British Airways fuel prices profits")
    assert len(rdocs) == 2 and all(d.metadata.get("reranked") for d in rdocs)
    assert rdocs[0].metadata["score"] >= rdocs[1].metadata["score"]
