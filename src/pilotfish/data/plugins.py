"""The data tools as plugins (entry points in pyproject.toml, like any third-party plugin).

- ``synthesis``: ``synthesize`` for the methods ``scratch``, ``label``, ``paraphrase``, ``questions``
  (the large model writes questions about passages, :mod:`.teacher`) (trylast,
  so an installed plugin can take over a method or add one).
- ``distillers``: ``distill`` for ``classification``, ``generation``, ``whitebox`` (trylast).
- Curation scorers, each ``score_examples``: ``perplexity``, ``ifd``, ``coverage``,
  ``quality-classifier``, ``dedup``.
"""

from __future__ import annotations

from typing import Any

from pilotfish.core.errors import ConfigError, InputError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions

from .records import Record


def _params(params: dict[str, Any], allowed: set[str], method: str) -> dict[str, Any]:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InputError(f"{method}: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    return params


class Synthesis(Plugin):
    """Synthesis from scratch, label-only and paraphrase with any pilotfish model."""

    name = "synthesis"

    class Options(PluginOptions):
        dedup_threshold: float = 0.8

    options: Options

    @hookimpl(trylast=True)
    def synthesize(self, method: str, records: list[Record], params: dict[str, Any], model: Any) -> Any:
        from . import synthesis

        p = dict(params)
        if method == "scratch":
            _params(p, {"task", "labels", "n_per_label", "temperature", "max_tokens", "min_words", "seed",
                        "dedup_threshold"}, method)
            p.setdefault("dedup_threshold", self.options.dedup_threshold)
            return synthesis.generate_examples(p.pop("task", ""), p.pop("labels", ()), model, **p)
        if method == "label":
            _params(p, {"labels", "instruction", "examples", "label_words", "calibrate", "max_chars", "mode"}, method)
            p["examples"] = [tuple(x) for x in p.get("examples", ())]
            return synthesis.label_texts(records, p.pop("labels", ()), model, **p)
        if method == "paraphrase":
            _params(p, {"n", "temperature", "max_tokens", "max_chars", "seed", "dedup_threshold", "min_ratio"}, method)
            p.setdefault("dedup_threshold", self.options.dedup_threshold)
            return synthesis.paraphrase(records, model, **p)
        if method == "questions":
            from .teacher import teacher_questions

            _params(p, {"n", "unanswerable_every", "seed", "max_tokens"}, method)
            return teacher_questions(records, model, **p)
        if method == "claims":
            from .teacher_claims import teacher_claims

            _params(p, {"seed", "write", "max_tokens"}, method)
            return teacher_claims(records, model, **p)
        if method == "judgements":
            from .teacher_judgements import teacher_judgements

            _params(p, {"seed"}, method)
            return teacher_judgements(records, model, **p)
        if method == "compressions":
            from .teacher_compressions import teacher_compressions

            _params(p, {"seed", "drafter", "ratio", "k", "noise"}, method)
            return teacher_compressions(records, model, **p)
        return None


class Distillers(Plugin):
    """Black-box (classification, generation) and white-box distillation."""

    name = "distillers"

    @hookimpl(trylast=True)
    def distill(self, task: str, records: list[Record], teacher: Any, student: Any, params: dict[str, Any]) -> Any:
        from . import distill

        p = dict(params)
        if task == "classification":
            if student not in (None, "minilm", "minilm-finetune"):
                raise InputError(f"classification students are 'minilm' (head) or 'minilm-finetune', got {student!r}")
            p.setdefault("student_mode", "finetune" if student == "minilm-finetune" else "head")
            return distill.distill_classification(records, p.pop("labels", ()), teacher, **p)
        if task == "generation":
            return distill.distill_generation(records, teacher, student or "truncate:8", **p)
        if task == "whitebox":
            return distill.distill_whitebox(records, teacher, student or "truncate:8", **p)
        return None


class PerplexityScorer(Plugin):
    """``perplexity``: perplexity of a field under a small white-box LM."""

    name = "perplexity"

    class Options(PluginOptions):
        model: str = "smollm2-135m"
        field: str = "text"
        max_chars: int = 2000

    options: Options

    @hookimpl
    def score_examples(self, records: list[Record]) -> dict[str, list[Any]]:
        from .curation import perplexity_scores

        return {"perplexity": perplexity_scores([str(r[self.options.field]) for r in records], self.options.model,
                                                max_chars=self.options.max_chars)}


class IFDScorer(Plugin):
    """``ifd``: Superfiltering's instruction-following difficulty of (instruction, response) pairs."""

    name = "ifd"

    class Options(PluginOptions):
        model: str = "smollm2-135m"
        instruction_field: str = "text"
        response_field: str = "response"

    options: Options

    @hookimpl
    def score_examples(self, records: list[Record]) -> dict[str, list[Any]]:
        from .curation import ifd_scores

        o = self.options
        missing = [i for i, r in enumerate(records) if not r.get(o.response_field)]
        if missing:
            raise InputError(f"ifd: record {missing[0]} has no {o.response_field!r} field (IFD scores responses)")
        return {"ifd": ifd_scores([str(r[o.instruction_field]) for r in records],
                                  [str(r[o.response_field]) for r in records], o.model)}


class CoverageScorer(Plugin):
    """``coverage``: k-means clusters of embeddings (``cluster``, ``centrality``)."""

    name = "coverage"

    class Options(PluginOptions):
        clusters: int = 10
        embedder: str = "minilm"
        field: str = "text"

    options: Options

    @hookimpl
    def score_examples(self, records: list[Record]) -> dict[str, list[Any]]:
        from .curation import coverage_columns

        return coverage_columns([str(r[self.options.field]) for r in records], clusters=self.options.clusters,
                                embedder=self.options.embedder)


class QualityScorer(Plugin):
    """``quality-classifier``: P(good) from a MiniLM classifier trained on quality labels.

    Give ``model`` (a directory saved by a previous run) or ``train`` (JSONL with ``text`` and
    ``label_field``); ``save`` writes the trained classifier for reuse.
    """

    name = "quality-classifier"

    class Options(PluginOptions):
        model: str | None = None
        train: str | None = None
        label_field: str = "quality"
        positive: str = "high"
        field: str = "text"
        save: str | None = None

    options: Options

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.options.model and not self.options.train:
            raise ConfigError("plugin 'quality-classifier': set 'model' (a saved classifier) or 'train' (labelled JSONL)")
        self._clf: Any = None

    def classifier(self) -> Any:
        if self._clf is None:
            from .classifier import TextClassifier
            from .records import read_jsonl

            o = self.options
            if o.model:
                self._clf = TextClassifier.load(o.model)
            else:
                data = read_jsonl(o.train or "", require=(o.label_field,))
                classes = sorted({str(r[o.label_field]) for r in data})
                if o.positive not in classes:
                    raise InputError(f"quality-classifier: no training record has {o.label_field}={o.positive!r} "
                                     f"(found {classes})")
                if len(classes) < 2:
                    raise InputError(f"quality-classifier: training labels need two classes, found {classes}")
                self._clf = TextClassifier(classes).fit([r["text"] for r in data], [str(r[o.label_field]) for r in data])
                if o.save:
                    self._clf.save(o.save)
        return self._clf

    @hookimpl
    def score_examples(self, records: list[Record]) -> dict[str, list[Any]]:
        clf = self.classifier()
        if self.options.positive not in clf.classes:
            raise ConfigError(f"quality-classifier: positive class {self.options.positive!r} not in {clf.classes}")
        col = clf.classes.index(self.options.positive)
        probs = clf.predict_proba([str(r[self.options.field]) for r in records])
        return {"quality": [float(p) for p in probs[:, col]]}


class DedupScorer(Plugin):
    """``dedup``: ``duplicate`` = 1 when a record near-duplicates an earlier one (MinHash or embeddings)."""

    name = "dedup"

    class Options(PluginOptions):
        threshold: float = 0.8
        method: str = "minhash"
        field: str = "text"

    options: Options

    @hookimpl
    def score_examples(self, records: list[Record]) -> dict[str, list[Any]]:
        from .dedup import duplicate_of

        parent = duplicate_of([str(r[self.options.field]) for r in records], threshold=self.options.threshold,
                              method=self.options.method)
        return {"duplicate": [0 if p is None else 1 for p in parent]}


SCORERS = {c.name: c for c in (PerplexityScorer, IFDScorer, CoverageScorer, QualityScorer, DedupScorer)}
