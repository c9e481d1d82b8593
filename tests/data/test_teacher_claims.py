"""Claims judged by the teacher: parsing, the contexts (no dev article), a real run on Qwen, and the
committed data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotfish.core.errors import InputError
from pilotfish.data.teacher_claims import claim_contexts, parse_statements, read_teacher_claims

STATE = Path(__file__).resolve().parents[2] / "datasets" / "teacher-claims" / "state"


def test_parse_statements_keeps_known_types_and_whole_sentences():
    raw = ('{"type": "true", "statement": "The firm doubled its sales in Asia last year."}\n'
           '{"type": "changed", "statement": "too short"}\n'
           '{"type": "opinion", "statement": "The firm is run by people who like Asia a lot."}\n'
           '{"type": "added", "statement": "The firm doubled its sales in Asia last year."}\n'
           '{"type": "Changed", "statement": "The firm halved its sales in Asia last year."}\nnot json {"type": ')
    assert parse_statements(raw) == [("true", "The firm doubled its sales in Asia last year."),
                                     ("changed", "The firm halved its sales in Asia last year.")]


def test_contexts_leave_out_the_excluded_articles(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sports/199.txt in the package is not UTF-8
        everything = claim_contexts("bbc", 30, seed=4)
        banned = tmp_path / "dev.jsonl"
        banned.write_text("".join(json.dumps({"doc_id": r["doc_id"]}) + "\n" for r in everything[:10]))
        kept = claim_contexts("bbc", 30, exclude=[str(banned)], seed=4)
    assert len(kept) == 30 and {r["label"] for r in kept} == {"supported", "unsupported", "contradicted"}
    assert not {r["doc_id"] for r in kept} & {r["doc_id"] for r in everything[:10]}
    with pytest.raises(InputError, match=">= 1"):
        claim_contexts("bbc", 0)
    with pytest.raises(InputError, match="does not exist"):
        claim_contexts(str(tmp_path / "no-corpus"), 3)


def test_bad_teacher_claims_files_are_named(tmp_path):
    with pytest.raises(InputError, match="do not exist"):
        read_teacher_claims([tmp_path / "none.jsonl"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"context": "Sales rose.", "claim": "Sales rose.", "label": "supported"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl: line 1.*p_supported"):
        read_teacher_claims([bad])
    bad.write_text(json.dumps({"context": "a", "claim": "b", "label": "maybe", "p_supported": 0.5}) + "\n")
    with pytest.raises(InputError, match="label 'maybe'"):
        read_teacher_claims([bad])


@pytest.mark.real
def test_the_teacher_writes_and_judges_claims_on_a_real_context():
    import warnings

    import pilotfish
    from pilotfish.data.teacher_claims import teacher_claims

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = claim_contexts("bbc", 1, seed=11)
    res = teacher_claims(records, "qwen2.5-1.5b", seed=0)
    assert res.report.inputs == 1, res.report.summary()
    origins = [r["origin"] for r in res.records]
    assert origins[0] == "rules" and origins.count("teacher") >= 2, [r["claim"] for r in res.records]
    for r in res.records:
        assert 0.0 < r["p_supported"] < 1.0 and r["context"] == records[0]["context"]
        assert r["provenance"]["model"] == "qwen2.5-1.5b" and r["provenance"]["source"] == records[0]["id"]
    mine = [r for r in res.records if r["origin"] == "teacher"]
    assert all(r["provenance"]["prompt"] == "teacher-claims-v1" and r["kind"].startswith("teacher-") for r in mine)
    # a black-box model cannot judge by log-probs: a clear error before any work
    with pytest.raises(pilotfish.WhiteBoxRequiredError):
        teacher_claims(records, pilotfish.FakeModel(["yes"]))


def test_committed_teacher_claims_are_clean_and_separate_the_labels(dev_doc_ids):
    """The product data: provenance on every record, no dev article, and the teacher's P(supported) higher
    on the claims made to be supported than on those made to be contradicted."""
    assert sorted(STATE.glob("shard-*.jsonl")), f"no committed shards under {STATE}"
    rows = read_teacher_claims([STATE])
    assert len(rows) >= 50
    by_label: dict[str, list[float]] = {}
    for r in rows:
        assert r["doc_id"] not in dev_doc_ids
        assert {"model", "prompt", "source"} <= set(r["provenance"]) and r["origin"] in ("rules", "teacher")
        by_label.setdefault(r["label"], []).append(r["p_supported"])
    mean = {k: sum(v) / len(v) for k, v in by_label.items()}
    assert mean["supported"] - mean["contradicted"] > 0.2, mean
