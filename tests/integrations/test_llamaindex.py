"""The LlamaIndex adapter: a real ``RetrieverQueryEngine`` with pilotfish's retriever,
postprocessor and LLM (Settings.llm and Settings.embed_model set explicitly), and LlamaIndex
LLMs under pilotfish."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Settings, VectorStoreIndex  # noqa: E402
from llama_index.core.llms import ChatMessage, MockLLM  # noqa: E402
from llama_index.core.query_engine import RetrieverQueryEngine  # noqa: E402
from llama_index.core.schema import Document as LIDocument  # noqa: E402
from pf_integration_helpers import MiniLMClaimVerifier, MiniLMReranker  # noqa: E402

import pilotfish  # noqa: E402
from pilotfish.adapters.llamaindex import (  # noqa: E402
    LlamaIndexModel,
    PilotEmbedding,
    PilotLLM,
    PilotPostprocessor,
    PilotRetriever,
    load_llamaindex_model,
    use_pilotfish_settings,
)


@pytest.fixture
def restore_settings():
    saved = (Settings._llm, Settings._embed_model, Settings._tokenizer)
    yield
    Settings._llm, Settings._embed_model, Settings._tokenizer = saved


@pytest.mark.real
def test_retriever_query_engine_on_real_models(retriever_plugin, restore_settings, smollm2):
    # the LLM: a pilotfish chain (SmolLM2 + claim verification) whose context comes from LlamaIndex
    answer_chain = pilotfish.Pilot(model="smollm2-135m", plugins=[MiniLMClaimVerifier()], use_entrypoints=False)
    llm = PilotLLM(pilot=answer_chain, max_tokens=6, context_window=1024)
    use_pilotfish_settings(llm, PilotEmbedding(), tokenizer_model=smollm2)
    assert Settings.llm is llm and isinstance(Settings.embed_model, PilotEmbedding)
    rerank_pilot = pilotfish.Pilot(model="fake", plugins=[retriever_plugin, MiniLMReranker()], use_entrypoints=False)
    retriever = PilotRetriever(rerank_pilot, k=4)
    post = PilotPostprocessor(pilot=rerank_pilot, top_n=2, max_chars=300)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm, node_postprocessors=[post])
    response = engine.query("What happened to mobile phone sales?")
    assert str(response).strip()
    assert len(response.source_nodes) == 2
    assert all(len(n.node.get_content()) <= 300 for n in response.source_nodes)
    assert all(n.node.metadata["retriever"] == "test-minilm" for n in response.source_nodes)
    # the same engine streams (the streaming path on the fake chain, to keep the suite fast)
    fake_llm = PilotLLM(model=pilotfish.FakeModel(lambda m: "Sales rose [1]. Costs fell [2]."), max_tokens=20)
    streaming = RetrieverQueryEngine.from_args(retriever, llm=fake_llm, node_postprocessors=[post], streaming=True)
    pieces = list(streaming.query("Who won the match?").response_gen)
    assert len(pieces) > 1 and "".join(pieces) == "Sales rose [1]. Costs fell [2]."


def test_vector_index_with_pilot_embedding_and_fake_chain(corpus, restore_settings):
    llm = PilotLLM(model=pilotfish.FakeModel(), max_tokens=40)
    use_pilotfish_settings(llm)
    docs = [LIDocument(text=d.text, doc_id=d.id, metadata={"title": d.title}) for d in corpus[:8]]
    index = VectorStoreIndex.from_documents(docs)
    nodes = index.as_retriever(similarity_top_k=2).retrieve("company profits and shares")
    assert len(nodes) == 2 and nodes[0].score > 0.2
    reply = llm.chat([ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="hello there")])
    assert reply.message.content == "echo: hello there"
    assert reply.additional_kwargs["pilotfish"]["route"]["model"] == "fake"
    done = list(llm.stream_complete("one two three"))
    assert done[-2].text == "echo: one two three" and done[-1].additional_kwargs["pilotfish"]


def test_postprocessor_dedupes_and_keeps_order_without_a_reranker(corpus):
    from pilotfish.adapters.llamaindex import to_node

    plain = pilotfish.Pilot(model="fake", use_entrypoints=False)
    nodes = [to_node(corpus[0]), to_node(corpus[0]), to_node(corpus[1]), to_node(corpus[2])]
    out = PilotPostprocessor(pilot=plain, top_n=2).postprocess_nodes(nodes, query_str="anything")
    assert [n.node.node_id for n in out] == [corpus[0].id, corpus[1].id]


def test_llamaindex_llm_as_a_pilotfish_model():
    mock = MockLLM(max_tokens=5)
    model = LlamaIndexModel(mock)
    pilot = pilotfish.Pilot(model=model, use_entrypoints=False)
    answer = pilot.run("alpha beta gamma delta epsilon zeta")
    assert answer.text and answer.route.model == "llamaindex:MockLLM"
    assert "".join(pilot.stream("alpha beta gamma")) == pilot.run("alpha beta gamma").text
    m = pilotfish.get_model("llamaindex:llama_index.core.llms.mock:MockLLM")
    assert isinstance(m, LlamaIndexModel)
    with pytest.raises(pilotfish.ModelError, match="not a LlamaIndex LLM"):
        load_llamaindex_model("pf_integration_helpers:TOPICS")
    with pytest.raises(pilotfish.ModelError, match="LlamaIndex LLM"):
        LlamaIndexModel("nope")


def test_bad_input(fake_rag_pilot):
    with pytest.raises(pilotfish.InputError, match="k must be"):
        PilotRetriever(fake_rag_pilot, k=0)
    with pytest.raises(pilotfish.InputError, match="pilotfish.Pilot"):
        PilotRetriever("not a pilot")
    with pytest.raises(pilotfish.InputError, match="empty"):
        PilotRetriever(fake_rag_pilot).retrieve("  ")
    with pytest.raises(pilotfish.InputError, match="top_n"):
        PilotPostprocessor(pilot=fake_rag_pilot, top_n=0)
    llm = PilotLLM(model=pilotfish.FakeModel())
    with pytest.raises(pilotfish.InputError, match="role"):
        llm.chat([ChatMessage(role="tool", content="42")])
