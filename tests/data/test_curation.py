"""Curation scorers as plugins (real MiniLM and SmolLM2), selection and the CLI."""

from __future__ import annotations

import json

import pytest

from pilotfish import ConfigError, InputError, WhiteBoxRequiredError
from pilotfish.data import curate, data_pilot, score
from pilotfish.data.curation import ifd_scores, perplexity_scores
from pilotfish.data.plugins import CoverageScorer, DedupScorer, PerplexityScorer, QualityScorer

GOOD = "The government announced a new budget for schools and hospitals on Monday."
GIBBERISH = "hospitals Monday the schools for on budget announced new government a and"
NAV = ["Home", "News", "Sign in", "Register", "Cookies", "Privacy policy", "Terms", "Share", "Print", "Subscribe",
       "Advertisement", "Most popular", "Click here", "Search", "Contact us", "Back to top"]


def boilerplate(i):
    return " | ".join(NAV[(i + k * 3) % len(NAV)] for k in range(6)) + f" ({i})"


def test_perplexity_prefers_fluent_text(hf_smollm2):
    fluent, shuffled = perplexity_scores([GOOD, GIBBERISH], hf_smollm2)
    assert fluent < shuffled


def test_ifd_is_lower_when_the_instruction_helps(hf_smollm2):
    [helped, unrelated] = ifd_scores(["Translate to French: thank you very much", "Name a colour."],
                                     [" merci beaucoup", " merci beaucoup"], hf_smollm2)
    assert helped < unrelated


def test_scorers_through_the_hook(bbc_small, tmp_path):
    recs = [dict(r) for r in bbc_small[:12]] + [dict(bbc_small[0], id="dup")]
    qual = tmp_path / "q.jsonl"
    qual.write_text("".join(json.dumps({"text": r["text"], "quality": "high"}) + "\n" for r in bbc_small[12:24])
                    + "".join(json.dumps({"text": boilerplate(i), "quality": "low"}) + "\n" for i in range(12)))
    pilot = data_pilot([DedupScorer, CoverageScorer, QualityScorer], {"coverage": {"clusters": 3},
                                                                     "quality-classifier": {"train": str(qual)}},
                       use_entrypoints=False)
    columns = pilot.hooks.score_examples(recs, pilot)
    assert {k for c in columns for k in c} == {"duplicate", "cluster", "centrality", "quality"}
    scored = score(recs, (), pilot=pilot)
    assert scored[-1]["scores"]["duplicate"] == 1 and sum(r["scores"]["duplicate"] for r in scored) == 1
    assert all(0 <= r["scores"]["quality"] <= 1 and r["scores"]["cluster"] in (0, 1, 2) for r in scored)
    good = [r["scores"]["quality"] for r in scored[:12]]
    junk = score([{"text": boilerplate(i)} for i in range(20, 24)], (), pilot=pilot)
    assert min(good) > max(r["scores"]["quality"] for r in junk)


def test_curate_selects_by_rule(bbc_small):
    selected, scored = curate(bbc_small[:10] + bbc_small[:2], ["dedup"], where=["duplicate==0"])
    assert len(scored) == 12 and len(selected) == 10


def test_scorer_errors(hf_smollm2):
    with pytest.raises(ConfigError, match="set 'model'"):
        QualityScorer()
    with pytest.raises(ConfigError, match="unknown option 'modle'"):
        PerplexityScorer(modle="x")
    with pytest.raises(WhiteBoxRequiredError):
        perplexity_scores(["x"], "fake")
    with pytest.raises(InputError, match="has no 'response' field"):
        score([{"text": "x"}], ["ifd"])
    with pytest.raises(InputError, match="at least one scorer"):
        score([{"text": "x"}], [])


def test_cli_curate(run_cli, write_lines, tmp_path):
    rows = [{"text": f"record number {i} about a different subject entirely {i * 7}"} for i in range(6)]
    rows.append(rows[0])
    code, _, err = run_cli("curate", write_lines("in.jsonl", rows), "-s", "dedup", "--where", "duplicate==0",
                           "--top", "3", "-o", tmp_path / "out.jsonl", "--scores-out", tmp_path / "all.jsonl")
    assert code == 0, err
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == 3 and all(r["scores"]["duplicate"] == 0 for r in out)
    code, _, err = run_cli("curate", write_lines("in2.jsonl", rows), "-s", "dedup", "--where", "dup=0", "-o",
                           tmp_path / "o.jsonl")
    assert code == 1 and "cannot read the condition" in err
    code, _, err = run_cli("curate", write_lines("in3.jsonl", rows), "-s", "nope", "-o", tmp_path / "o.jsonl")
    assert code == 1 and "not installed" in err
