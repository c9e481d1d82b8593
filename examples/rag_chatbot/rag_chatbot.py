"""A RAG chatbot over the packaged BBC News corpus, with numbered citations.

    python examples/rag_chatbot/rag_chatbot.py                      # index (once, cached) and chat
    python examples/rag_chatbot/rag_chatbot.py --ask "Who bought ..."  # one question

The same thing from the shell::

    pilotfish chat --corpus bbc
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pilotfish
from pilotfish.data.corpora import bbc_dir
from pilotfish.retrievers.cli import corpus_index
from pilotfish.retrievers.index import build_index


def main(argv: list[str] | None = None) -> list[pilotfish.Answer]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default=None, help="index directory, built or updated incrementally (default: "
                    "pilotfish's cached index of the corpus, the one `pilotfish ask --corpus` uses)")
    ap.add_argument("--corpus", default=None, help="documents to index (default: the BBC corpus)")
    ap.add_argument("--retrievers", default="bm25,dense", help="bm25,dense[,colbert]")
    ap.add_argument("--model", default="qwen2.5-1.5b", help="the answering model")
    ap.add_argument("--ask", default=None, help="answer one question and exit")
    ap.add_argument("-k", type=int, default=3, help="passages given to the model")
    args = ap.parse_args(argv)

    corpus = Path(args.corpus) if args.corpus else bbc_dir()
    retrievers = [r for r in args.retrievers.split(",") if r]
    if args.index is None:
        args.index = str(corpus_index(str(corpus), retrievers))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pilotfish.PilotfishWarning)  # one undecodable BBC file is skipped
            report = build_index(corpus, args.index, retrievers)
        print(f"index: {report.manifest['passages']} passages from {report.manifest['documents']} documents "
              f"({len(report.added) + len(report.changed)} (re)indexed, {report.unchanged} unchanged)",
              file=sys.stderr)

    pilot = pilotfish.Pilot(model=args.model, plugins=retrievers, top_k=args.k,
                            config=pilotfish.PilotConfig(index=str(Path(args.index).resolve())))
    questions = [args.ask] if args.ask else None
    answers = []
    while True:
        if questions is not None:
            if not questions:
                break
            q = questions.pop()
        else:
            try:
                q = input("you> ").strip()
            except EOFError:
                break
            if not q:
                break
        answer = pilot.run(q, max_tokens=120)
        answers.append(answer)
        print(answer.text)
        for i, doc in enumerate(answer.documents, 1):
            print(f"  [{i}] {doc.doc_id} - {doc.title} (chars {doc.metadata.get('start')}-{doc.metadata.get('end')})")
    return answers


if __name__ == "__main__":
    main()
