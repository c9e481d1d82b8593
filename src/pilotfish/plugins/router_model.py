"""The router file: a logistic regression over sentence embeddings of the request, in JSON + ``.npz``.

A router folder (``pilotfish train router --out DIR``) holds::

    DIR/router.json    what it is: embedder id, dimension and fingerprint; the cheap and the expensive
                       model ids; the threshold (0.5, or the one ``pilotfish calibrate router`` chose);
                       the held-out AUROC; the ids of the records it was trained and held out on
    DIR/router.npz     the weights: ``coef`` (dimension,) and ``intercept`` (1,); read with
                       ``allow_pickle=False`` (no pickle anywhere)

``P(cheap right | request) = sigmoid(coef . e + intercept)``, ``e`` the unit-norm embedding of the
request's question. The fingerprint is the embedder's vector of a fixed probe sentence: a file trained
with another embedder (another id, another dimension, or other weights under the same id) is refused at
load time, since its weights would score meaningless vectors without any error.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import ModelError
from pilotfish.core.outputs import write_text_atomic

KIND = "pilotfish-router"
FORMAT = 1
JSON_FILE = "router.json"
WEIGHTS_FILE = "router.npz"
PROBE = "Which model should answer this question about the news?"
FINGERPRINT_DIMS = 16
FINGERPRINT_TOLERANCE = 0.02
"""Largest difference allowed per fingerprint dimension (CPU kernels differ a little across machines)."""


def embed(embedder: Any, texts: list[str]) -> np.ndarray:
    """Unit-norm float32 embeddings of ``texts`` (renormalised: any embedder works)."""
    vecs = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
    if vecs.ndim != 2 or len(vecs) != len(texts):
        raise ModelError(f"embedder {getattr(embedder, 'model_id', embedder)!r} returned {vecs.shape} for "
                         f"{len(texts)} texts")
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0)


def fingerprint(embedder: Any) -> list[float]:
    return [round(float(x), 4) for x in embed(embedder, [PROBE])[0][:FINGERPRINT_DIMS]]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def json_path(path: str | Path) -> Path:
    """``DIR`` or ``DIR/router.json`` -> ``DIR/router.json``."""
    p = Path(path).expanduser()
    return p if p.name == JSON_FILE or p.suffix == ".json" else p / JSON_FILE


@dataclass
class RouterModel:
    """The trained router: weights and what they were trained for."""

    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def embedder(self) -> str:
        return str(self.meta["embedder"])

    @property
    def cheap(self) -> str:
        return str(self.meta["cheap"])

    @property
    def expensive(self) -> str:
        return str(self.meta["expensive"])

    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.5))

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """P(cheap right) for each unit-norm embedding row."""
        return sigmoid(np.asarray(vectors, dtype=np.float64) @ self.coef + self.intercept)

    def check_embedder(self, embedder: Any) -> None:
        """Refuse an embedder other than the one the router was trained with (:class:`ModelError`)."""
        where = f"router {self.path or ''}".strip()
        mine = getattr(embedder, "model_id", None)
        if mine is not None and mine != self.embedder:
            raise ModelError(f"{where} was trained with embedder {self.embedder!r}, not {mine!r}; use "
                             f"embedder = {self.embedder!r} or retrain it with `pilotfish train router --embedder {mine}`")
        fp = fingerprint(embedder)
        if len(fp) != len(self.meta["fingerprint"]) or int(getattr(embedder, "dimension", len(self.coef)) or 0) \
                not in (0, len(self.coef)):
            raise ModelError(f"{where} expects {len(self.coef)}-dimensional embeddings from {self.embedder!r}, but "
                             f"the embedder gives {getattr(embedder, 'dimension', '?')}; retrain the router")
        diff = max(abs(a - b) for a, b in zip(fp, self.meta["fingerprint"], strict=True))
        if diff > FINGERPRINT_TOLERANCE:
            raise ModelError(f"{where} was trained with another embedder than the {self.embedder!r} loaded here "
                             f"(its probe vector differs by {diff:.3f}); retrain it with `pilotfish train router`")

    def save(self, folder: str | Path) -> Path:
        """Write ``router.json`` and ``router.npz`` into ``folder`` (the JSON last, atomically)."""
        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / (WEIGHTS_FILE + ".tmp.npz")
        np.savez(tmp, coef=np.asarray(self.coef, dtype=np.float64), intercept=np.asarray([self.intercept]))
        os.replace(tmp, d / WEIGHTS_FILE)
        self.write_meta(d / JSON_FILE)
        self.path = d / JSON_FILE
        return d

    def write_meta(self, path: Path | None = None) -> None:
        target = path or self.path
        if target is None:
            raise ModelError("this router has no file to write to")
        meta = {"kind": KIND, "format": FORMAT, **{k: v for k, v in self.meta.items() if k not in ("kind", "format")},
                "weights": WEIGHTS_FILE}
        write_text_atomic(target, json.dumps(meta, indent=2) + "\n")


def load_router(path: str | Path) -> RouterModel:
    """Read a router folder (or its ``router.json``); a missing, foreign or damaged file is a
    :class:`ModelError` naming the file and what is wrong."""
    jf = json_path(path)
    fix = "train one with `pilotfish train router --data RECORDS... --out DIR`"
    if not jf.is_file():
        raise ModelError(f"router {jf}: no such file; {fix}")
    try:
        meta = json.loads(jf.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"router {jf} is damaged (not JSON: {exc}); {fix}") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise ModelError(f"{jf} is not a pilotfish router file (kind {meta.get('kind') if isinstance(meta, dict) else None!r}); {fix}")
    if meta.get("format") != FORMAT:
        raise ModelError(f"router {jf} has format {meta.get('format')!r}; this pilotfish reads format {FORMAT}; {fix}")
    missing = [k for k in ("embedder", "fingerprint", "cheap", "expensive", "dimension") if k not in meta]
    if missing:
        raise ModelError(f"router {jf} is damaged: missing {', '.join(missing)}; {fix}")
    wf = jf.parent / str(meta.get("weights", WEIGHTS_FILE))
    try:
        with np.load(wf, allow_pickle=False) as z:
            coef = np.asarray(z["coef"], dtype=np.float64)
            intercept = np.asarray(z["intercept"], dtype=np.float64)
    except FileNotFoundError:
        raise ModelError(f"router {jf}: its weights {wf} are missing; {fix}") from None
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"router {jf}: its weights {wf} are damaged ({type(exc).__name__}: {exc}); {fix}") from None
    if coef.ndim != 1 or len(coef) != int(meta["dimension"]) or intercept.shape != (1,):
        raise ModelError(f"router {jf}: weights of shape {coef.shape} + {intercept.shape} do not match its "
                         f"dimension {meta['dimension']}; {fix}")
    if not (np.isfinite(coef).all() and math.isfinite(float(intercept[0]))):
        raise ModelError(f"router {jf}: its weights are not finite numbers; {fix}")
    threshold = meta.get("threshold", 0.5)
    if not isinstance(threshold, (int, float)) or not 0.0 <= float(threshold) <= 1.0:
        raise ModelError(f"router {jf}: threshold {threshold!r} is not a probability in [0, 1]")
    return RouterModel(coef=coef, intercept=float(intercept[0]), meta=meta, path=jf)
