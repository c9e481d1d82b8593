"""A LlamaIndex query engine with pilotfish inside: retriever, node postprocessor and LLM.

- ``VectorStoreIndex`` over BBC News articles, embedded by the packaged MiniLM
  (``PilotEmbedding``; LlamaIndex's default embedder needs OpenAI);
- ``PilotRetriever``: pilotfish's fused retrieval (the installed ``bm25``/``dense`` plugins over an
  index of the same corpus when they can run here), else LlamaIndex's own vector retriever;
- ``PilotPostprocessor``: reranks the candidates with the pilot's ``rerank`` plugin (the MiniLM
  reranker defined below) and keeps the best two;
- ``PilotLLM``: the answer comes from a pilotfish chain (SmolLM2 by default); any plugin you add to
  that chain (prompt enhancers, routing, decoding strategies) runs on every LLM call.

Run::

    python examples/llamaindex_app.py "Why did high fuel prices hit BA's profits?" [--model qwen2.5-1.5b]
    python examples/llamaindex_app.py --corpus bbc "Which company did Lakshmi Mittal run?"   # all 2,224 articles
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from llama_index.core import Document as LIDocument
from llama_index.core import VectorStoreIndex
from llama_index.core.query_engine import RetrieverQueryEngine

import pilotfish
from pilotfish.adapters.llamaindex import (
    PilotEmbedding,
    PilotLLM,
    PilotPostprocessor,
    PilotRetriever,
    use_pilotfish_settings,
)

sys.path.insert(0, str(Path(__file__).parent))
from langchain_app import bbc_corpus, indexed_retrieval, pick_retrievers  # noqa: E402  (the shared corpus and retriever choice)


class MiniLMReranker(pilotfish.Plugin):
    """A ``rerank`` plugin: cosine similarity of MiniLM embeddings of query and passage."""

    name = "example-rerank"

    @pilotfish.hookimpl
    def rerank(self, request: pilotfish.Request, documents: list[pilotfish.Document], k: int) -> list[pilotfish.Document]:
        emb = pilotfish.get_model("minilm")
        scores = emb.embed([d.text for d in documents]) @ emb.embed([request.search_query])[0]
        order = sorted(range(len(documents)), key=lambda i: -float(scores[i]))[:k]
        return [pilotfish.Document(documents[i].id, documents[i].text, documents[i].doc_id, documents[i].title,
                                   float(scores[i]), documents[i].retriever, documents[i].metadata) for i in order]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question", nargs="?", default="Why did high fuel prices hit BA's profits?")
    parser.add_argument("--model", default="qwen2.5-1.5b")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--retrievers", default="bm25,dense,colbert",
                        help="pilotfish retriever plugins to try, comma-separated (empty: LlamaIndex's vector retriever)")
    parser.add_argument("--corpus", default=None,
                        help="'bbc' (all 2,224 packaged articles) or a folder: pilotfish's cached index of it "
                             "(built on first use) instead of the 32-article sample")
    args = parser.parse_args(argv)

    corpus = bbc_corpus()
    answer_chain = pilotfish.Pilot(model=args.model)
    llm = PilotLLM(pilot=answer_chain, max_tokens=args.max_tokens, context_window=2048)
    model = answer_chain.get_model()
    use_pilotfish_settings(llm, PilotEmbedding(), tokenizer_model=model if hasattr(model, "encode") else None)

    rerank_pilot = pilotfish.Pilot(model="fake", plugins=[MiniLMReranker()])
    postprocessor = PilotPostprocessor(pilot=rerank_pilot, top_n=2, max_chars=400)

    with tempfile.TemporaryDirectory() as tmp:
        names = tuple(n.strip() for n in args.retrievers.split(",") if n.strip())
        if args.corpus:  # pilotfish's cached index of the whole corpus
            retrieval, retriever_name = indexed_retrieval(args.corpus)
            retriever: Any = PilotRetriever(retrieval, k=6)
        else:
            plugins, pilot_kwargs, retriever_name = pick_retrievers(corpus, Path(tmp), names)
            if retriever_name != "example-minilm":
                retriever = PilotRetriever(pilotfish.Pilot(plugins=plugins, **pilot_kwargs), k=6)
            else:
                docs = [LIDocument(text=d.text, doc_id=d.id, metadata={"title": d.title}) for d in corpus]
                retriever = VectorStoreIndex.from_documents(docs).as_retriever(similarity_top_k=6)
                retriever_name = "llamaindex-vector (MiniLM)"
        engine = RetrieverQueryEngine.from_args(retriever, llm=llm, node_postprocessors=[postprocessor])
        response = engine.query(args.question)

    print(f"question: {args.question}\n")
    print(f"answer ({retriever_name} -> pilotfish rerank -> {args.model}): {str(response).strip()}")
    for i, n in enumerate(response.source_nodes, start=1):
        print(f"  [{i}] {n.node.metadata.get('title') or n.node.node_id} (score {n.score:.3f})")
    return {"response": response, "retriever": retriever_name}


if __name__ == "__main__":
    main()
