"""The integration examples run end to end (the LangChain one on the real SmolLM2 with short
answers; the LlamaIndex one on the fake model: its real-model path is covered by
test_llamaindex.py's query engine test, and the suite has a time budget)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def examples_path():
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


@pytest.mark.real
def test_langchain_app(examples_path, smollm2, capsys):
    import langchain_app

    out = langchain_app.main(["Why did high fuel prices hit BA's profits?", "--max-tokens", "6", "--retrievers", "bm25"])
    assert out["before"].strip() and out["after"]["answer"].strip()
    assert len(out["after"]["documents"]) == 2
    assert "High fuel prices hit BA's profits" in [d.metadata["title"] for d in out["after"]["documents"]]
    assert out["after"]["verdicts"] and {"passed", "label", "claim"} <= set(out["after"]["verdicts"][0])
    assert "after  (pilotfish retriever:" in capsys.readouterr().out


def test_llamaindex_app(examples_path):
    from llama_index.core import Settings

    saved = (Settings._llm, Settings._embed_model, Settings._tokenizer)
    try:
        import llamaindex_app

        out = llamaindex_app.main(["Why did high fuel prices hit BA's profits?", "--model", "fake", "--retrievers", ""])
    finally:
        Settings._llm, Settings._embed_model, Settings._tokenizer = saved
    response = out["response"]
    assert str(response).strip()
    assert response.source_nodes[0].node.metadata["title"] == "High fuel prices hit BA's profits"
