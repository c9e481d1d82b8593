"""Weak-to-strong: weak sklearn models on few labels, a MiniLM student with the confidence loss, PGR."""

from __future__ import annotations

import math

import pytest
import torch

from pilotfish import InputError
from pilotfish.data.classifier import confidence_loss
from pilotfish.data.weak_to_strong import pgr, weak_to_strong


def test_pgr():
    assert pgr(0.6, 0.8, 1.0) == pytest.approx(0.5)
    assert math.isnan(pgr(0.9, 0.95, 0.9))


def test_confidence_loss_mixes_weak_and_self_targets():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    weak = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    plain = confidence_loss(logits, weak, 0.0)
    mixed = confidence_loss(logits, weak, 1.0)  # only the hardened own predictions
    assert mixed < plain
    assert float(mixed) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).item()))


def test_weak_to_strong_on_bbc(bbc_small):
    few = [r for i, r in enumerate(bbc_small) if i % 8 == 0]
    pool = [r for i, r in enumerate(bbc_small) if 0 < i % 8 < 6]
    test = [r for i, r in enumerate(bbc_small) if i % 8 >= 6]
    rep = weak_to_strong(few, pool, test, sorted({r["label"] for r in bbc_small}), aux_weights=(0.0, 0.5))
    assert set(rep.weak_each) == {"tfidf-word-lr", "tfidf-char-lr", "count-nb"}
    assert 0 <= rep.weak_accuracy <= 1 and rep.ceiling_accuracy >= 0.6
    assert set(rep.pgr) == {"aux=0", "aux=0.5"}
    with pytest.raises(InputError, match="no example of"):
        weak_to_strong(few[:2], pool, test, sorted({r["label"] for r in bbc_small}))
