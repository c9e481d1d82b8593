"""What every specialist shares: a prediction with its explanation, a model id, a recorded accuracy.

A specialist is a small trained model for one task. It is a :class:`~pilotfish.core.models.LanguageModel`
(so its id works anywhere a model is named: ``Pilot(model="specialist:bbc-topic")``, a route, a cascade):
the last user message is its input, the answer's text is the label with a readable explanation, and
``generation.metadata["specialist"]`` holds the label, confidence, class probabilities and explanation.

It also says what it is for, so a router can choose it: :attr:`Specialist.task`,
:meth:`Specialist.accepts` (is this request that task?), :attr:`Specialist.measured_accuracy` (the
held-out accuracy recorded when it was trained) and :meth:`Specialist.beats` (does it beat a named
large model's accuracy on the same task, as a benchmark recorded with :func:`record_baseline`?).

Trained specialists live in ``<cache>/models/specialist-<name>/`` with ``pilotfish_specialist.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, ModelError
from pilotfish.core.models import GenerationParams, LanguageModel
from pilotfish.core.outputs import write_text_atomic
from pilotfish.core.types import Generation, Message, Request

META_FILE = "pilotfish_specialist.json"
SCORE_KEY = "val_accuracy"
"""The held-out accuracy every specialist records (``pilotfish models`` shows it)."""


@dataclass
class Prediction:
    """One answer of a specialist: the label, how sure it is, and why."""

    label: str
    confidence: float
    probabilities: dict[str, float]
    explanation: dict[str, Any] = field(default_factory=dict)
    """``{"kind": "sentences" | "features", "method": ..., "items": [{...,"weight": w}, ...]}``"""
    text: str = ""
    """The readable answer: the label on the first line, then the explanation."""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(self.confidence, 4),
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "explanation": self.explanation}


def folder_name(name: str) -> str:
    """``bbc-topic`` -> ``specialist-bbc-topic``; ``tabular:iris`` -> ``specialist-tabular-iris``."""
    return "specialist-" + name.replace(":", "-").replace("/", "-")


def default_path(name: str) -> Path:
    from pilotfish.models.cache import cache_dir

    return cache_dir() / "models" / folder_name(name)


def read_meta(path: Path) -> dict[str, Any] | None:
    """The specialist's metadata file, or ``None`` when it is missing or unreadable."""
    f = Path(path) / META_FILE
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write the metadata atomically (a reader never sees half a file)."""
    write_text_atomic(Path(path) / META_FILE, json.dumps(meta, indent=2) + "\n")


def record_baseline(path: Path, model_id: str, accuracy: float, n: int, note: str = "",
                    specialist_accuracy: float | None = None) -> dict[str, Any]:
    """Store a large model's measured accuracy on the specialist's task next to the specialist, so
    :meth:`Specialist.beats` can compare (benchmarks call it with ``--record``). ``specialist_accuracy``:
    the specialist's own accuracy on the same ``n`` items, kept beside it for the record."""
    meta = read_meta(path)
    if meta is None:
        raise ModelError(f"{path} holds no trained specialist ({META_FILE} is missing)")
    entry: dict[str, Any] = {"accuracy": round(float(accuracy), 4), "n": int(n), "note": note,
                             "measured": time.strftime("%Y-%m-%d %H:%M")}
    if specialist_accuracy is not None:
        entry["specialist_accuracy_same_items"] = round(float(specialist_accuracy), 4)
    meta.setdefault("baselines", {})[model_id] = entry
    write_meta(path, meta)
    return meta


def progress_line(message: str) -> None:
    """One line on stderr while a specialist trains on first use."""
    print(f"pilotfish: {message}", file=sys.stderr, flush=True)


class Specialist(LanguageModel):
    """A trained small model for one task. Subclasses implement :meth:`predict_batch` and set
    :attr:`task`, :attr:`labels` and :attr:`meta`."""

    task: str = ""
    labels: list[str]
    meta: dict[str, Any]
    path: Path

    # -- what it is for --------------------------------------------------------------------------

    @property
    def measured_accuracy(self) -> float | None:
        """The held-out (validation) accuracy recorded when it was trained."""
        value = self.meta.get(SCORE_KEY)
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def baselines(self) -> dict[str, dict[str, Any]]:
        """Large models' accuracies on this task, as benchmarks recorded them: ``{model id: {accuracy, n}}``."""
        return dict(self.meta.get("baselines") or {})

    def beats(self, model_id: str) -> bool | None:
        """Whether the specialist's measured (validation) accuracy is above ``model_id``'s recorded accuracy
        on this task (``None`` when either was never measured). The two are measured on different items
        (the large model is slow, so fewer); the baseline entry also keeps the specialist's accuracy on the
        large model's items."""
        base = self.baselines.get(model_id)
        mine = self.measured_accuracy
        if base is None or mine is None:
            return None
        return mine > float(base["accuracy"])

    def accepts(self, request: Request | str) -> bool:
        """Whether a request is this specialist's task: ``request.metadata["task"]`` names it (its task
        or its model id). Subclasses may also recognise the input itself."""
        if isinstance(request, Request):
            return request.metadata.get("task") in (self.task, self.model_id)
        return False

    def card(self) -> dict[str, Any]:
        """What a router (or ``pilotfish models``) needs to know, in plain JSON types."""
        return {"model": self.model_id, "task": self.task, "labels": list(self.labels),
                "measured_accuracy": self.measured_accuracy, "baselines": self.baselines,
                "trained": self.meta.get("trained"), "path": str(self.path)}

    # -- answering -------------------------------------------------------------------------------

    def predict(self, item: Any) -> Prediction:
        return self.predict_batch([item])[0]

    def predict_batch(self, items: list[Any], *, explain: bool = True) -> list[Prediction]:
        """One prediction per input; ``explain=False`` skips the explanation's extra work where it costs."""
        raise NotImplementedError

    def _generate(self, messages: list[Message], params: GenerationParams, *, on_token: Callable[[str], None] | None,
                  logits_processors: list[Any]) -> Generation:
        users = [m for m in messages if m.get("role") == "user"]
        if not users or not str(users[-1].get("content", "")).strip():
            raise InputError(f"{self.model_id}: no input (the last user message is empty or missing)")
        pred = self.predict(str(users[-1]["content"]))
        if on_token is not None:
            on_token(pred.text)
        return Generation(text=pred.text, model=self.model_id, finish_reason="stop",
                          metadata={"specialist": {"model": self.model_id, "task": self.task, **pred.to_dict(),
                                                   "measured_accuracy": self.measured_accuracy}})


def load_or_train(name: str, path: Path | None, train: Callable[[Path], Any], load: Callable[[Path], Any]) -> Any:
    """Load the trained specialist at ``path`` (default: its cache folder), training it first when absent
    (one progress line; a file lock keeps two processes from training it at once)."""
    from pilotfish.models.cache import FileLock

    target = Path(path) if path is not None else default_path(name)
    if read_meta(target) is None:
        with FileLock(target.parent / f".{target.name}.lock",
                      on_wait=lambda: progress_line(f"waiting for another process training specialist:{name}")):
            if read_meta(target) is None:
                progress_line(f"specialist:{name} is not trained yet; training it into {target} (first use)")
                start = time.perf_counter()
                meta = train(target)
                progress_line(f"specialist:{name} trained in {time.perf_counter() - start:.0f} s; "
                              f"validation accuracy {meta[SCORE_KEY]:.3f}")
    return load(target)
