"""``specialist:bbc-topic``: the BBC News topic classifier (business, entertainment, politics, sports, tech).

A MiniLM classifier from the data tools (:class:`pilotfish.data.TextClassifier`; ``head`` mode by
default: frozen MiniLM sentence embeddings and a trained linear head; ``finetune`` trains every layer)
on the first ``max_chars`` characters of each article (title and lead).

Its explanation is evidence words and sentences, from the same single MiniLM pass as the label: the
sentence embedding is the normalised mean of the token vectors and the head is linear, so each token's
share of each class logit is exact; a token's evidence is its share of the chosen label's logit minus its
mean share over all labels, a word sums its word pieces and a sentence its tokens. (A ``finetune`` or MLP
head has no such decomposition: then each sentence is classified alone and ``P(label | sentence)`` shown.)

The split (:func:`bbc_topic_split`) is deterministic: copies are merged first (the corpus repeats 100
articles exactly and re-publishes others with the same headline or opening, so a copy never sits on both
sides; the 2,225 articles make 2,096 groups), excluded articles (an evaluation set's) and
their copies are dropped, then each topic is cut 70 / 15 / 15 into train / validation / test. The
validation accuracy is recorded; the test part is left for benchmarks.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError, ModelError
from pilotfish.data.classifier import TextClassifier, cached_embeddings
from pilotfish.data.corpora import BBC_LABELS, bbc_records, copy_groups, split

from .base import SCORE_KEY, Prediction, Specialist, default_path, read_meta, write_meta

NAME = "bbc-topic"
FRACTIONS = (0.7, 0.15, 0.15)
MAX_CHARS = 600
SPLIT_VERSION = 2
"""Recorded with a trained specialist; 2 = copies found by headline and opening (1 = exact copies only)."""
PUNCTUATION = ".,;:!?()[]\"'`"
MAX_SENTENCES = 8
"""Sentences of an input scored for the explanation (the first ones; an article's lead carries its topic)."""


def bbc_topic_split(exclude_docs: Iterable[str] = (), *, seed: int = 0, max_chars: int | None = MAX_CHARS,
                    ) -> dict[str, list[dict[str, Any]]]:
    """Train / validation / test records of the BBC corpus, without ``exclude_docs`` or their copies."""
    excluded = set(exclude_docs)
    kept = []
    for copies in copy_groups(bbc_records()):
        if any(r["id"] in excluded for r in copies):
            continue
        first = dict(copies[0])
        if max_chars is not None:
            first["text"] = first["text"][:max_chars]
        kept.append(first)
    parts: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
    for label in BBC_LABELS:
        train, val, test = split([r for r in kept if r["label"] == label], FRACTIONS, seed=seed)
        parts["train"] += train
        parts["val"] += val
        parts["test"] += test
    return parts


def sentences(text: str) -> list[str]:
    """The sentences of a text (split after . ! ? and at line breaks)."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 2]


def train_topic(out: Path, *, exclude_docs: Iterable[str] = (), mode: str = "head", max_chars: int = MAX_CHARS,
                seed: int = 0, per_class: int | None = None, val_per_class: int | None = None,
                epochs: int | None = None) -> dict[str, Any]:
    """Train the topic specialist into ``out`` and record its validation accuracy; returns the metadata.

    ``per_class`` / ``val_per_class`` limit the training / validation articles per topic (tests train a
    small one)."""
    excluded = sorted(set(exclude_docs))
    parts = bbc_topic_split(excluded, seed=seed, max_chars=max_chars)
    train = parts["train"]
    if per_class is not None:
        train = [r for lab in BBC_LABELS for r in [x for x in train if x["label"] == lab][:per_class]]
    texts, labels = [r["text"] for r in train], [r["label"] for r in train]
    start = time.perf_counter()
    clf = TextClassifier(list(BBC_LABELS), mode=mode, seed=seed)
    if mode == "head":
        cached_embeddings(texts)  # persisted: a retrain on the same articles embeds nothing
    clf.fit(texts, labels, epochs=epochs)
    val = parts["val"]
    if val_per_class is not None:
        val = [r for lab in BBC_LABELS for r in [x for x in val if x["label"] == lab][:val_per_class]]
    val_acc = clf.evaluate([r["text"] for r in val], [r["label"] for r in val], fresh=False)["accuracy"]
    Path(out).mkdir(parents=True, exist_ok=True)
    clf.save(out)
    meta = {"kind": "pilotfish-specialist", "name": NAME, "task": NAME, "labels": list(BBC_LABELS),
            "model": "minilm", "mode": mode, "max_chars": max_chars, "split_seed": seed, "split_version": SPLIT_VERSION,
            "fractions": list(FRACTIONS), "train_examples": len(train), "val_examples": len(val), SCORE_KEY: round(float(val_acc), 4),
            "excluded_docs": excluded, "seconds": round(time.perf_counter() - start, 1),
            "trained": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
    write_meta(Path(out), meta)
    return meta


class TopicSpecialist(Specialist):
    """The trained BBC topic classifier as a model: ``predict(text)`` -> :class:`Prediction`."""

    task = NAME

    def __init__(self, path: Path, model_id: str = f"specialist:{NAME}"):
        meta = read_meta(path)
        if meta is None or meta.get("name") != NAME:
            raise ModelError(f"{path} holds no trained {NAME} specialist; train one with "
                             f"`pilotfish train specialist {NAME}`")
        self.path, self.meta, self.model_id = Path(path), meta, model_id
        self.clf = TextClassifier.load(path)
        self.labels = list(self.clf.classes)
        self.max_chars = int(meta.get("max_chars") or MAX_CHARS)

    @property
    def linear(self) -> bool:
        """Head mode with a linear head: the explanation is an exact decomposition of the logits."""
        return self.clf.mode == "head" and not self.clf.hidden

    def _proba(self, texts: list[str]) -> np.ndarray:
        if self.clf.mode != "head":
            return np.asarray(self.clf.predict_proba(texts))
        import torch

        from pilotfish.core.models import get_model

        # embedded directly, not through the data tools' per-text cache: a server sees endless new texts
        vecs = np.asarray(get_model(self.clf.embedder).embed(texts), dtype=np.float32)
        with torch.inference_mode():
            return torch.softmax(self.clf.net(torch.from_numpy(vecs)).float(), dim=-1).numpy()

    def _linear_pass(self, texts: list[str]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """One MiniLM pass: probabilities, and per text (token char offsets [T, 2], token logit shares [T, K]).

        The sentence embedding is the normalised mean of the token vectors, ``e = m / |m|`` with
        ``m = sum_t h_t / n``, and the head is linear, so ``logit_c = b_c + sum_t W_c . h_t / (n |m|)``:
        each token's share of each class's logit, exactly."""
        import torch

        from pilotfish.core.models import get_model

        st = get_model(self.clf.embedder).model
        enc = st.tokenizer(texts, truncation=True, max_length=st.max_seq_length, padding=True,
                           return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")
        with torch.inference_mode():
            h = st(dict(enc))["token_embeddings"].float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            n = mask.sum(1)
            m = (h * mask).sum(1) / n
            scale = (n * m.norm(dim=-1, keepdim=True)).unsqueeze(-1)  # [B, 1, 1]
            weight, bias = self.clf.net.weight.float(), self.clf.net.bias.float()
            shares = (h @ weight.T) / scale * mask  # [B, T, K]
            probs = torch.softmax(shares.sum(1) + bias, dim=-1).numpy()
        out = []
        for i in range(len(texts)):
            keep = enc["attention_mask"][i].bool().numpy()
            out.append((offsets[i].numpy()[keep], shares[i].numpy()[keep]))
        return probs, out

    def predict_batch(self, items: list[Any], *, explain: bool = True) -> list[Prediction]:
        texts = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise InputError(f"{self.model_id}: input {i} must be a non-empty text, got {item!r:.60}")
            texts.append(item.strip()[: self.max_chars])
        if explain and self.linear:
            probs, parts = self._linear_pass(texts)
            return [self._explained(t, row, *part) for t, row, part in zip(texts, probs, parts, strict=True)]
        pieces = [sentences(t)[:MAX_SENTENCES] if explain else [] for t in texts]
        probs = self._proba(texts + [s for p in pieces for s in p])
        out, at = [], len(texts)
        for text_pieces, row in zip(pieces, probs[: len(texts)], strict=True):
            best = int(row.argmax())
            weights = [round(float(probs[at + j][best]), 4) for j in range(len(text_pieces))]
            order = sorted(range(len(text_pieces)), key=lambda j: -weights[j])[:3]
            evidence = [{"sentence": text_pieces[j], "weight": weights[j]} for j in order]
            at += len(text_pieces)
            label = self.labels[best]
            explanation: dict[str, Any] = {"kind": "sentences", "method": f"P({label} | the sentence alone)", "sentences": evidence,
                           "tokens": []}
            out.append(self._prediction(row, explanation))
        return out

    def _explained(self, text: str, row: np.ndarray, offsets: np.ndarray, shares: np.ndarray) -> Prediction:
        best = int(row.argmax())
        label = self.labels[best]
        # a token's evidence for the label: its share of the label's logit minus its mean share of all logits
        lift = shares[:, best] - shares.mean(axis=1)
        spans = [(m.start(), m.end()) for m in re.finditer(r"[^.!?\n]+[.!?]*", text) if len(m.group().strip()) > 2]
        per_sentence = [0.0] * len(spans)
        words: dict[tuple[int, int], float] = {}
        word_start, word_end = -1, -1
        for (a, b), w in zip(offsets.tolist(), lift.tolist(), strict=True):
            if a == b:  # [CLS], [SEP]
                continue
            if a != word_end:  # a new word (word pieces continue exactly where the last ended)
                word_start = a
            elif (word_start, word_end) in words:
                w += words.pop((word_start, word_end))
            word_end = b
            words[(word_start, b)] = w
        for (a, _end), w in words.items():
            for j, (sa, sb) in enumerate(spans):
                if sa <= a < sb:
                    per_sentence[j] += w
                    break
        top_words = sorted(words.items(), key=lambda kv: -kv[1])[:8]
        top_sentences = sorted(range(len(spans)), key=lambda j: -per_sentence[j])[:2]
        explanation = {
            "kind": "tokens and sentences",
            "method": f"each token's exact share of the {label} logit minus its mean share of all logits (linear head "
                      "on the mean of MiniLM's token vectors); a sentence sums its tokens",
            "tokens": [{"token": text[a:b].strip(PUNCTUATION), "weight": round(w, 4)} for (a, b), w in top_words
                       if w > 0 and text[a:b].strip(PUNCTUATION)],
            "sentences": [{"sentence": text[spans[j][0]:spans[j][1]].strip(), "weight": round(per_sentence[j], 4)}
                          for j in top_sentences if per_sentence[j] > 0],
        }
        return self._prediction(row, explanation)

    def _prediction(self, row: np.ndarray, explanation: dict[str, Any]) -> Prediction:
        best = int(row.argmax())
        label, confidence = self.labels[best], float(row[best])
        lines = [f"{label} (confidence {confidence:.2f})"]
        if explanation.get("tokens"):
            lines.append("evidence words: " + ", ".join(f"{t['token']} ({t['weight']:+.2f})" for t in explanation["tokens"]))
        if explanation.get("sentences"):
            lines.append("evidence sentences:")
            lines += [f"  {e['weight']:+.2f}  \"{e['sentence'][:160]}\"" for e in explanation["sentences"]]
        return Prediction(label, confidence, {lab: float(p) for lab, p in zip(self.labels, row, strict=True)},
                          explanation, "\n".join(lines))


def load_topic(path: Path | None = None) -> TopicSpecialist:
    return TopicSpecialist(Path(path) if path is not None else default_path(NAME))
