"""Records, readers, dedup and selection rules (no models)."""

from __future__ import annotations

import pytest

from pilotfish import InputError
from pilotfish.data import dedup, duplicate_of, make_record, provenance, read_jsonl, write_jsonl
from pilotfish.data.curation import parse_condition, select


def test_roundtrip_keeps_provenance(tmp_path):
    rec = make_record("hello world", label="x", prov=provenance("synthesis", model="m", prompt="p", source="s-1"))
    write_jsonl(tmp_path / "a.jsonl", [rec])
    [back] = read_jsonl(tmp_path / "a.jsonl")
    assert back == rec
    assert set(back["provenance"]) >= {"plugin", "model", "prompt", "rule", "source"}


def test_records_from_files_get_id_and_provenance(write_lines):
    [r] = read_jsonl(write_lines("a.jsonl", [{"text": "abc"}]))
    assert r["id"].startswith("r-") and r["provenance"]["plugin"] == "input"


def test_empty_dataset_is_an_error(write_lines):
    with pytest.raises(InputError, match="empty"):
        read_jsonl(write_lines("e.jsonl", ["", "  "]))


def test_missing_text_field_names_the_line(write_lines):
    p = write_lines("m.jsonl", [{"text": "ok"}, {"txt": "oops"}])
    with pytest.raises(InputError, match=r"line 2: record has no 'text' field \(fields: txt\)"):
        read_jsonl(p)


def test_bad_json_and_missing_file(write_lines, tmp_path):
    with pytest.raises(InputError, match="line 1 is not valid JSON"):
        read_jsonl(write_lines("b.jsonl", ["{nope"]))
    with pytest.raises(InputError, match="does not exist"):
        read_jsonl(tmp_path / "none.jsonl")
    with pytest.raises(InputError, match="non-empty string"):
        read_jsonl(write_lines("c.jsonl", [{"text": ""}]))


def test_minhash_finds_near_duplicates():
    base = "The central bank raised interest rates by a quarter point on Thursday, citing persistent inflation."
    texts = [base, base.replace("Thursday", "Friday"), "A completely different sentence about football and goals.",
             base + " Markets fell."]
    parent = duplicate_of(texts, threshold=0.6)
    assert parent[0] is None and parent[2] is None
    assert parent[1] == 0 and parent[3] == 0
    kept, removed = dedup([{"text": t} for t in texts], threshold=0.6)
    assert removed == 2 and len(kept) == 2
    with pytest.raises(InputError, match="threshold"):
        duplicate_of(texts, threshold=0)


def test_select_rules():
    recs = [{"id": str(i), "text": "t", "scores": {"ppl": float(i), "cluster": i % 2}} for i in range(10)]
    assert [r["id"] for r in select(recs, where=["ppl<=q0.5"])] == ["0", "1", "2", "3", "4"]
    assert [r["id"] for r in select(recs, where=["ppl>2"], top=3, by="ppl")] == ["7", "8", "9"]
    per = select(recs, top=4, by="ppl", per="cluster")
    assert sorted(r["scores"]["cluster"] for r in per) == [0, 0, 1, 1]
    assert len(select(recs, top=0.3)) == 3
    with pytest.raises(InputError, match="cannot read the condition"):
        parse_condition("ppl ~ 3")
    with pytest.raises(InputError, match="no column 'nope'"):
        select(recs, where=["nope>1"])
    with pytest.raises(InputError, match="empty"):
        select([], top=1)


def test_data_package_imports_without_torch_and_plugins_are_installed():
    import subprocess
    import sys

    code = ("import sys, pilotfish.data, pilotfish.data.plugins, pilotfish.data.cli, pilotfish.data.engine;"
            "print(sorted(m for m in ('torch','transformers','sentence_transformers','ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from pilotfish.core.manager import installed_plugins

    names = set(installed_plugins(refresh=True))
    assert {"synthesis", "distillers", "perplexity", "ifd", "coverage", "quality-classifier", "dedup",
            "data-tools"} <= names


def test_cli_usage_errors(run_cli, write_lines, tmp_path):
    data = write_lines("d.jsonl", [{"text": "x"}])
    code, _, err = run_cli("distill", data, "--task", "classification", "-o", tmp_path / "s")
    assert code == 2 and "--labels is required" in err
    code, _, err = run_cli("curate", data, "-s", "dedup", "--set", "nodot", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "PLUGIN.OPTION=VALUE" in err
    code, _, err = run_cli("weak-to-strong", "--few", data, "--pool", data, "--test", data)
    assert code == 1 and "line 1: record has no 'label' field" in err


def test_register_commands_adds_the_data_commands():
    import click

    from pilotfish.data import cli as data_cli

    @click.group()
    def root():
        pass

    data_cli.register_commands(root)
    assert {"synthesize", "curate", "distill", "weak-to-strong"} <= set(root.commands)
    assert {"scratch", "label", "paraphrase", "questions", "claims", "judgements", "compressions", "qa-file", "dedup"} == set(root.commands["synthesize"].commands)


def test_read_doc_ids_takes_jsonl_or_plain_lines_and_names_bad_input(tmp_path):
    from pilotfish.core.errors import InputError
    from pilotfish.data.records import read_doc_ids

    jl = tmp_path / "qa.jsonl"
    jl.write_text('{"question": "q", "doc_id": "tech/001"}\n{"question": "u", "doc_id": null}\n\n', encoding="utf-8")
    assert read_doc_ids(jl) == {"tech/001"}
    plain = tmp_path / "ids.txt"
    plain.write_text("sport/002\n business/010 \n", encoding="utf-8")
    assert read_doc_ids(plain) == {"sport/002", "business/010"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "a"}\n{"doc_id": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid JSON"):
        read_doc_ids(bad)
    with pytest.raises(InputError, match="no such file"):
        read_doc_ids(tmp_path / "missing.jsonl")
