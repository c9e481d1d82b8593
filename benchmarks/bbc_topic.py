"""BBC topic classification with the large model: the held-out items, the prompts, the example pool and
a disk cache of the large model's answers, shared by ``benchmarks/specialists.py`` and
``benchmarks/superICL.py`` (the same condition on the same article is asked once across both).

Held-out items come from the specialist's test split (:func:`pilotfish.specialists.topic.bbc_topic_split`),
with the dev sets' articles and their copies excluded from every split; the specialist used is checked
to have been trained with that exclusion (retrained into the cache otherwise).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from devdata import CLAIMS_DEV, QA_DEV, dev_file, work_dir

from pilotfish.data.corpora import BBC_LABELS
from pilotfish.data.records import read_doc_ids
from pilotfish.data.synthesis import parse_label
from pilotfish.specialists.base import default_path, read_meta
from pilotfish.specialists.topic import NAME, SPLIT_VERSION, TopicSpecialist, bbc_topic_split, train_topic

WORDS = {"sports": "sport"}
PROMPT = ("What is the topic of this BBC news article? Answer with one word: business, entertainment, politics, "
          "sport or tech.\n\nArticle: {text}")
EXAMPLE_CHARS = 300
"""Characters of each in-context example's article (keeps a 4-shot prompt near 500 tokens)."""
WORK = work_dir("pilotfish-bbc-topic-bench")


def dev_doc_ids() -> set[str]:
    return read_doc_ids(dev_file(QA_DEV)) | read_doc_ids(dev_file(CLAIMS_DEV, option="--claims"))


def topic_specialist() -> TopicSpecialist:
    """The cached specialist, retrained there first unless it was trained without the dev articles, on
    this split."""
    dev = dev_doc_ids()
    path = default_path(NAME)
    meta = read_meta(path)
    if meta is None or not dev <= set(meta.get("excluded_docs") or ()) or meta.get("split_version") != SPLIT_VERSION:
        print(f"training specialist:{NAME} into {path} without the {len(dev)} dev articles ...", flush=True)
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        train_topic(path, exclude_docs=dev)
    return TopicSpecialist(path)


def held_out(n: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(n test items, topic-balanced in a fixed order; the train part) of the specialist's split."""
    parts = bbc_topic_split(dev_doc_ids(), seed=seed)
    by_label = {lab: [r for r in parts["test"] if r["label"] == lab] for lab in BBC_LABELS}
    items = [by_label[lab][i] for i in range(max(len(v) for v in by_label.values())) for lab in BBC_LABELS
             if i < len(by_label[lab])]
    return items[:n], parts["train"]


def question(text: str) -> str:
    return PROMPT.format(text=text)


def write_pool(train: list[dict[str, Any]]) -> Path:
    """The examples plugin's pool: the training articles as solved prompts (matched on the article text)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "pool.jsonl"
    lines = [json.dumps({"input": question(r["text"][:EXAMPLE_CHARS]), "output": WORDS.get(r["label"], r["label"]),
                         "text": r["text"], "id": r["id"]}) for r in train]
    text = "\n".join(lines) + "\n"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


class AnswerCache:
    """The large model's answers per (condition, item, model, prompt), kept between runs in a JSONL file."""

    def __init__(self, name: str = "answers.jsonl"):
        self.path = WORK / name
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                row = json.loads(line)
                self.rows[row["key"]] = row

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def put(self, key: str, row: dict[str, Any]) -> None:
        row = {"key": key, **row}
        self.rows[key] = row
        WORK.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def ask_topic(pilot: Any, item: dict[str, Any], condition: str, cache: AnswerCache, model: str) -> dict[str, Any]:
    """The large model's label for one article under ``condition`` (the pilot carries its plugins)."""
    from pilotfish.core.types import Request

    key = AnswerCache.key(condition, item["id"], model, PROMPT, EXAMPLE_CHARS, 2)
    hit = cache.get(key)
    if hit is not None:
        return hit
    request: Request = pilot.make_request(question(item["text"]), max_tokens=4, temperature=0.0)
    request = request.replace(metadata={"input": item["text"], "task": NAME})
    start = time.perf_counter()
    answer = pilot.run(request)
    seconds = time.perf_counter() - start
    label = parse_label(answer.text, list(BBC_LABELS), WORDS)
    row = {"condition": condition, "id": item["id"], "gold": item["label"], "label": label, "raw": answer.text[:60],
           "seconds": round(seconds, 3), "hint": answer.request.metadata.get("supericl")}
    cache.put(key, row)
    return row
