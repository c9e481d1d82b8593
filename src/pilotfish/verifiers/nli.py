"""A sequence-classification NLI cross-encoder: (premise, hypothesis) -> P(entail, neutral, contradict).

Any Hugging Face checkpoint works (hub id or local folder) as long as its ``config.id2label``
names NLI labels: ``entailment`` / ``neutral`` / ``contradiction`` in any case and common
synonyms (``supported``, ``contradicted``, ``not_enough_info``...), or a two-label
"consistent / hallucinated" head in the style of Vectara's HHEM (then the non-supported mass
is reported as neutral, since such a model cannot tell contradicted from unsupported).

The default model is the one ``pilotfish train verifier`` writes into the model cache
(:func:`pilotfish.models.cache.default_verifier_path`). Models are loaded once per process and shared (the
``entailment`` and ``consistency`` verifiers and ``pilotfish eval verify`` use the same one).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import ModelError
from pilotfish.models.cache import default_verifier_path

ENTAILMENT, NEUTRAL, CONTRADICTION = 0, 1, 2
CANONICAL = ("entailment", "neutral", "contradiction")

_SYNONYMS = {
    ENTAILMENT: {"entailment", "entails", "entailed", "entail", "supported", "support", "supports",
                 "consistent", "factual", "faithful", "true", "yes"},
    NEUTRAL: {"neutral", "unsupported", "not_enough_info", "not enough info", "nei", "unknown", "unverifiable"},
    CONTRADICTION: {"contradiction", "contradicted", "contradicts", "contradict", "refuted", "refutes", "false"},
}
_NOT_SUPPORTED = {"hallucinated", "hallucination", "inconsistent", "unfaithful", "not_supported",
                  "not supported", "non_entailment", "not_entailment", "no"}


def label_mapping(id2label: dict[Any, str], where: str = "the checkpoint") -> dict[int, int]:
    """Map a checkpoint's label ids to ENTAILMENT / NEUTRAL / CONTRADICTION.

    Raises a :class:`ModelError` naming the labels that are missing when the head is not NLI.
    """
    found: dict[int, int] = {}
    names = {int(i): str(n).strip().lower().replace("-", "_") for i, n in id2label.items()}
    for i, name in names.items():
        spaced = name.replace("_", " ")
        for canon, words in _SYNONYMS.items():
            if name in words or spaced in words:
                found[i] = canon
        if name in _NOT_SUPPORTED or spaced in _NOT_SUPPORTED:
            found[i] = NEUTRAL
    have = set(found.values())
    if ENTAILMENT in have and len(found) == len(names) and (len(names) == 2 or have == {0, 1, 2}):
        return found
    missing = [CANONICAL[c] for c in (ENTAILMENT, NEUTRAL, CONTRADICTION) if c not in have]
    got = ", ".join(str(n) for _, n in sorted(id2label.items(), key=lambda kv: int(kv[0])))
    raise ModelError(
        f"{where} is not an NLI model: its labels are [{got}], missing {', '.join(missing) or 'a mapping for every label'} "
        "(an NLI verifier needs entailment/neutral/contradiction, or a 2-label consistent/hallucinated head)"
    )


class NLIModel:
    """A cross-encoder that scores (premise, hypothesis) pairs.

    Args:
        path: hub id or local folder of a sequence-classification checkpoint.
        max_length: tokens per pair; longer premises are windowed by the callers.
        batch_size: pairs per forward pass.
    """

    def __init__(self, path: str | Path, *, max_length: int = 256, batch_size: int = 32, device: str = "cpu",
                 head: bool = True):
        from pilotfish.models.hf import require_transformers

        transformers = require_transformers()
        import torch

        self.path = str(path)
        local = Path(self.path).expanduser()
        if local.exists() and not (local / "config.json").exists():
            raise ModelError(f"{self.path} has no config.json: not a Hugging Face checkpoint folder")
        try:
            config = transformers.AutoConfig.from_pretrained(self.path)
        except Exception as exc:
            raise ModelError(f"could not load the verifier model {self.path!r}: {type(exc).__name__}: {exc}") from exc
        self.mapping = label_mapping(getattr(config, "id2label", {}) or {}, f"the verifier model {self.path!r}")
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path)
            self.model = transformers.AutoModelForSequenceClassification.from_pretrained(self.path)
        except Exception as exc:
            raise ModelError(f"could not load the verifier model {self.path!r}: {type(exc).__name__}: {exc}") from exc
        self.model.eval().to(device)
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self.two_label = len(self.mapping) == 2
        self._torch = torch
        self._lock = threading.Lock()
        from .head import VerifierHead

        self.head = VerifierHead.load(local) if head and local.is_dir() else None
        """The calibrated head stored next to the checkpoint (:mod:`pilotfish.verifiers.head`), if any."""
        self._featurizer: Any = None

    def __repr__(self) -> str:
        return f"<NLIModel {self.path!r}{' +head' if self.head is not None else ''}>"

    def predict(self, premises: Sequence[str], hypotheses: Sequence[str], raw: bool = False) -> Any:
        """Probabilities ``[n, 3]`` (numpy) in the order entailment, neutral, contradiction.

        With a head next to the checkpoint (and ``raw=False``) these are the head's probabilities,
        computed from the cross-encoder's and the alignment features; ``raw=True`` gives the
        cross-encoder's own.
        """
        probs = self._predict_raw(premises, hypotheses)
        if self.head is None or raw or not len(premises):
            return probs
        return self.head.predict_proba(self.features(premises, hypotheses, probs))

    def features(self, premises: Sequence[str], hypotheses: Sequence[str], probs: Any) -> Any:
        """The head's input features for the pairs (``probs``: the cross-encoder's output)."""
        from .head import Featurizer

        if self._featurizer is None:
            self._featurizer = Featurizer()
        return self._featurizer(premises, hypotheses, probs)

    def _predict_raw(self, premises: Sequence[str], hypotheses: Sequence[str]) -> Any:
        import numpy as np

        torch = self._torch
        if len(premises) != len(hypotheses):
            raise ValueError("premises and hypotheses differ in length")
        out = np.zeros((len(premises), 3), dtype=np.float32)
        if not premises:
            return out
        # sort by length so batches pad little
        order = sorted(range(len(premises)), key=lambda i: len(premises[i]) + len(hypotheses[i]))
        from pilotfish.models.hardware import cpu_has_bf16

        with self._lock, torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=cpu_has_bf16()):
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                enc = self.tokenizer(
                    [premises[i] for i in idx], [hypotheses[i] for i in idx], truncation="longest_first",
                    max_length=self.max_length, padding=True, pad_to_multiple_of=16, return_tensors="pt",
                ).to(self.device)
                probs = torch.softmax(self.model(**enc).logits.float(), dim=-1).cpu().numpy()
                for j, i in enumerate(idx):
                    for k, canon in self.mapping.items():
                        out[i, canon] += probs[j, k]
        return out

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.tokenize(text))


_cache: dict[str, NLIModel] = {}
_cache_lock = threading.Lock()


def resolve_verifier_path(model: str | None) -> str:
    """The model to load: an explicit id/path, or the trained default (clear error if absent)."""
    if model:
        return model
    path = default_verifier_path()
    if not (path / "config.json").exists():
        raise ModelError(
            f"no verifier model found at {path}; train one with `pilotfish train verifier --corpus bbc`, "
            "let the large model judge (model = 'qwen2.5-1.5b', the default 'auto' does), or set the option "
            "model = '<Hugging Face NLI checkpoint id or path>'"
        )
    score = trained_verifier_score(path)
    if score is None or score < QUALITY_FLOOR:
        raise ModelError(
            f"the trained verifier at {path} records a held-out accuracy of {score if score is not None else 'nothing'} "
            f"(quality floor {QUALITY_FLOOR}); it is not used. Train it fully with `pilotfish train verifier "
            "--corpus bbc` (no --max-minutes), or let the large model judge (model = 'qwen2.5-1.5b')"
        )
    return str(path)


QUALITY_FLOOR = 0.7
"""Held-out synthetic accuracy a trained verifier must have recorded to be used (a full run records
0.78-0.81; a run cut short at 114 of 475 steps recorded 0.46 and passed wrong answers)."""


def trained_verifier_score(path: Path | None = None) -> float | None:
    """The held-out accuracy ``pilotfish train verifier`` recorded next to the model, if any."""
    import json

    f = (path or default_verifier_path()) / "pilotfish_verifier.json"
    try:
        value = json.loads(f.read_text()).get("synthetic_val_accuracy")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def load_nli(model: str | None = None, *, max_length: int = 256, batch_size: int = 32, head: bool = True) -> NLIModel:
    """The shared :class:`NLIModel` for an id or path (the trained default when ``None``).

    One instance per (model, max_length, batch_size, head): callers that use the defaults share it.
    """
    path = resolve_verifier_path(model)
    key = f"{path}|{max_length}|{batch_size}|{head}"
    with _cache_lock:
        if key not in _cache:
            _cache[key] = NLIModel(path, max_length=max_length, batch_size=batch_size, head=head)
        return _cache[key]
