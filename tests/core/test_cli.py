"""The pilotfish CLI, run as a user would (subprocess for exit codes, CliRunner for speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pilotfish.cli import cli


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "pilotfish", *args], capture_output=True, text=True, input=input)


def test_ask_with_trace_and_json():
    r = run("ask", "-m", "fake", "hello world", "--trace")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "echo: hello world"
    assert "generate" in r.stderr and "model fake: 1 call(s)" in r.stderr
    r = CliRunner().invoke(cli, ["ask", "-m", "fake", "hi", "--json"])
    data = json.loads(r.output)
    assert data["text"] == "echo: hi" and data["route"] == "fake"


def test_ask_streams_the_text_then_prints_the_rest():
    r = run("ask", "-m", "fake", "hello world", "--stream")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "echo: hello world"  # the same output as without streaming, printed once
    r = run("ask", "-m", "fake", "hello", "--stream", "--json")
    assert r.returncode == 2 and "give --stream or --json, not both" in r.stderr


@pytest.mark.real
def test_ask_stream_shows_the_first_token_before_the_answer_is_done(smollm2):
    """A real model on llama.cpp: the first text reaches stdout well before the process ends, and the streamed
    answer is the same greedy answer as the printed one."""
    import time

    args = [sys.executable, "-m", "pilotfish", "ask", "-m", "smollm2-135m", "--max-tokens", "48", "--temperature", "0",
            "Write a long list of European capital cities."]
    plain = subprocess.run([*args, "--no-stream"], capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    proc = subprocess.Popen([*args, "--stream"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    arrivals = []  # (seconds, bytes) of each read of stdout
    while chunk := os.read(proc.stdout.fileno(), 4096):
        arrivals.append((time.perf_counter(), chunk))
    err = proc.stderr.read()
    assert proc.wait() == 0, err.decode()
    assert b"".join(c for _, c in arrivals).decode().strip() == plain.stdout.strip()
    # streamed: the text came in many pieces over the generation's time, not in one write at the end
    assert len(arrivals) >= 5, arrivals
    assert arrivals[-1][0] - arrivals[0][0] > 0.2, arrivals


def test_exit_codes_and_messages(tmp_path):
    r = run("ask", "-m", "fake", "  ")
    assert r.returncode == 2 and "the question is empty" in r.stderr
    r = run("ask", "-m", "fake", "-p", "nope", "q")
    assert r.returncode == 1 and "plugin 'nope' is not installed; installed plugins:" in r.stderr
    assert "Traceback" not in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[pilotfish\n")
    r = run("ask", "-c", str(bad), "q")
    assert r.returncode == 1 and "malformed TOML" in r.stderr
    r = run("ask", "-m", "no-such-model", "q")
    assert r.returncode == 1 and "unknown model 'no-such-model'; known models:" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_run_uses_the_config_file(tmp_path):
    cfg = tmp_path / "pilotfish.toml"
    cfg.write_text('[pilotfish]\nmodel = "fake"\nplugins = ["shout"]\n')
    r = run("run", "--config", str(cfg), "hey")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "echo: HEY!"


def test_plugins_lists_hooks_and_distribution():
    r = CliRunner().invoke(cli, ["plugins", "--json"])
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert rows["core"]["hooks"] == ["build_messages", "generate", "route"]
    assert rows["core"]["dist"] == "pilotfish" and rows["core"]["default"]
    assert rows["shout"]["dist"] == "pilotfish-shout" and rows["shout"]["hooks"] == ["before_prompt", "register_models"]


def test_models_lists_ids_aliases_and_availability():
    r = CliRunner().invoke(cli, ["models", "--json"])
    data = json.loads(r.output)
    models = {m["id"]: m for m in data["models"]}
    assert {"fake", "smollm2-135m", "gemma3-270m", "minilm"} <= set(models)
    assert models["smollm2-135m"]["available"] and models["smollm2-135m"]["aliases"] == ["smollm2"]
    assert models["minilm"]["kind"] == "embedder"
    assert any(s["scheme"] == "hf:<...>" for s in data["schemes"])


@pytest.mark.real
def test_chat_rewrites_a_follow_up_with_the_small_model(tmp_path, smollm2):
    (tmp_path / "steel.txt").write_text("Steel firm to cut jobs\n\nLakshmi Mittal runs LNM Holdings. "
                                        "LNM Holdings plans to cut 45,000 jobs over three years.")
    (tmp_path / "rain.txt").write_text("Rain in the north\n\nHeavy rain fell across the north of England.")
    r = run("chat", "-m", "fake", "--corpus", str(tmp_path), "--no-verify", "--trace",
            input="Which company does Lakshmi Mittal run?\nHow many jobs will it cut?\n")
    assert r.returncode == 0, r.stderr
    assert "rewrite (smollm2-135m, standalone): searched" in r.stderr
    assert "'Which company does Lakshmi Mittal run? How many jobs will it cut?'" in r.stderr  # fused with the rule
    r = run("chat", "-m", "fake", "--corpus", str(tmp_path), "--no-verify", "--no-rewrite", "--trace",
            input="Which company does Lakshmi Mittal run?\nHow many jobs will it cut?\n")
    assert r.returncode == 0, r.stderr
    assert "rewrite (" not in r.stderr


def test_chat_streams_and_keeps_history():
    r = run("chat", "-m", "fake", input="first\nsecond\n")
    assert r.returncode == 0, r.stderr
    assert "pilotfish> echo: first" in r.stdout and "pilotfish> echo: second" in r.stdout


def test_the_corpus_chain_recites_verifies_and_drops(tmp_path, monkeypatch):
    """``--corpus`` (the README's first command) adds ``recite`` next to the retrievers, and with verification
    ``entailment`` and ``drop-unsupported`` (unless a repair plugin is named); PILOTFISH_DISABLE_PLUGINS takes
    ``recite`` out without an error."""
    from pilotfish.cli import pilot_for_command

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "steel.txt").write_text("Steel firm to cut jobs\n\nLakshmi Mittal runs LNM Holdings.")
    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PILOTFISH_PRELOAD", "0")
    names = pilot_for_command(None, "fake", (), str(docs), None, None).pm.plugin_names()
    assert {"recite", "entailment", "drop-unsupported"} <= set(names)
    names = pilot_for_command(None, "fake", (), str(docs), None, False).pm.plugin_names()
    assert "recite" in names and "entailment" not in names and "drop-unsupported" not in names
    # a configured repair plugin replaces the default one
    names = pilot_for_command(None, "fake", ("regenerate",), str(docs), None, None).pm.plugin_names()
    assert "regenerate" in names and "drop-unsupported" not in names
    monkeypatch.setenv("PILOTFISH_DISABLE_PLUGINS", "recite")
    assert "recite" not in pilot_for_command(None, "fake", (), str(docs), None, False).pm.plugin_names()
