"""The verifier learns from the teacher's judgements: soft targets, held-out contexts, and training that
follows the soft labels (a real MiniLM, a few steps)."""

from __future__ import annotations

import json

import pytest

from pilotfish.core.errors import InputError
from pilotfish.data.articles import load_articles
from pilotfish.data.claims import synthesize
from pilotfish.verifiers.train import soft_target, split_by_context, train_verifier


def test_soft_targets_put_the_rest_on_the_kind_of_error():
    assert soft_target(0.8, "unsupported") == pytest.approx([0.8, 0.2, 0.0])
    assert soft_target(0.3, "contradicted") == pytest.approx([0.3, 0.0, 0.7])
    assert soft_target(0.6, "supported") == pytest.approx([0.6, 0.2, 0.2])
    rows = [{"context": f"c{i % 7}", "claim": str(i)} for i in range(70)]
    held, train = split_by_context(rows, share=0.3, seed=1)
    assert held and train and not {r["context"] for r in held} & {r["context"] for r in train}


def _judged(tiny_corpus, tmp_path, p: float):
    """The tiny corpus's claims, every one 'judged' p (a stand-in teacher that disagrees with the rules)."""
    rows = [{"context": e.context, "claim": e.claim, "label": e.label, "p_supported": p, "doc_id": e.doc_id}
            for e in synthesize(load_articles(tiny_corpus), 48, seed=9)]
    path = tmp_path / f"judged-{p}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_training_follows_the_teachers_soft_labels(tiny_corpus, tmp_path):
    """Two runs differ only in the teacher's verdicts (all supported / none): the student's P(supported) on
    the held-out judged contexts follows them."""
    out = {}
    for p in (1.0, 0.0):
        stats = train_verifier(tiny_corpus, tmp_path / f"v{p}", examples=6, batch_size=16, epochs=2, head_examples=0,
                               teacher=[_judged(tiny_corpus, tmp_path, p)], teacher_weight=2.0, seed=0, progress=False)
        assert stats["teacher"]["claims"] == 48 and stats["teacher"]["held_out"] >= 1
        out[p] = stats["teacher"]["mean_abs_diff"]
        assert (tmp_path / f"v{p}" / "config.json").is_file()
    # mean |teacher - student| on held-out claims is 1 - P(supported) for the first run and P(supported) for the
    # second: the student that was told "supported" says so far more often
    assert (1.0 - out[1.0]) - out[0.0] > 0.3, out


def test_teacher_option_errors(tiny_corpus, tmp_path):
    with pytest.raises(InputError, match="do not exist"):
        train_verifier(tiny_corpus, tmp_path / "v", examples=6, teacher=[tmp_path / "none.jsonl"], progress=False)
    with pytest.raises(InputError, match="teacher-weight"):
        train_verifier(tiny_corpus, tmp_path / "v", examples=6, teacher=[tmp_path], teacher_weight=0, progress=False)
    judged = _judged(tiny_corpus, tmp_path, 0.5)
    docs = {json.loads(line)["doc_id"] for line in judged.read_text().splitlines()}
    with pytest.raises(InputError, match="no claim outside the excluded"):
        train_verifier(tiny_corpus, tmp_path / "v", examples=6, teacher=[judged], exclude_docs=docs, progress=False)
    with pytest.raises(InputError, match="not a checkpoint folder"):
        train_verifier(tiny_corpus, tmp_path / "v", examples=6, base=tmp_path, progress=False)
    assert not (tmp_path / "v").exists()


def _ranked(tiny_corpus, tmp_path, verbatim_first: bool):
    """Two claims per context, 'judged' by a stand-in teacher: the context's own first sentence and a sentence of
    another context. ``verbatim_first``: the teacher ranks the own sentence above the foreign one (else the reverse)."""
    contexts = sorted({e.context for e in synthesize(load_articles(tiny_corpus), 48, seed=9)})
    rows = []
    for i, ctx in enumerate(contexts):
        own, foreign = ctx.split(". ")[0], contexts[(i + 1) % len(contexts)].split(". ")[0]
        for claim, top in ((own, verbatim_first), (foreign, not verbatim_first)):
            rows.append({"context": ctx, "claim": claim, "label": "supported" if claim == own else "unsupported",
                         "p_supported": 0.9 if top else 0.1, "doc_id": f"d{i}"})
    path = tmp_path / f"ranked-{verbatim_first}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rank_loss_orders_each_contexts_claims_as_the_teacher_does(tiny_corpus, tmp_path):
    """``teacher_loss="rank"``: two runs whose teachers order each context's two claims oppositely. Each student
    agrees with its own teacher on the held-out contexts (AUROC > 0.5 for both); a student that ignored the
    ranking would agree with at most one of the two."""
    agreement = {}
    for first in (True, False):
        stats = train_verifier(tiny_corpus, tmp_path / f"v{first}", examples=6, batch_size=8, epochs=3,
                               head_examples=0, teacher=[_ranked(tiny_corpus, tmp_path, first)], teacher_loss="rank",
                               teacher_weight=2.0, seed=0, progress=False)
        t = stats["teacher"]
        assert t["loss"] == "rank" and t["rank_groups"] >= 10 and t["rank_pairs"] == t["rank_groups"], t
        agreement[first] = t["auroc_vs_teacher"]
    assert min(agreement.values()) > 0.6, agreement


def test_rank_loss_option_error(tiny_corpus, tmp_path):
    with pytest.raises(InputError, match="teacher-loss must be one of soft, rank"):
        train_verifier(tiny_corpus, tmp_path / "v", examples=6, teacher_loss="listwise", progress=False)
    assert not (tmp_path / "v").exists()
