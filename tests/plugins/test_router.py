"""The ``router`` plugin, ``train router`` and ``calibrate router`` (issue 16, item 2), on the real MiniLM.

The records are planted: teacher questions (committed, dev articles excluded) about sports articles are
the ones the cheap model gets right, every other one it gets wrong; the expensive model is right on
most. A router that learns anything from the questions' embeddings must find the topic.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from pilotfish import FakeModel, Pilot, Request
from pilotfish.core.errors import ConfigError, InputError, ModelError
from pilotfish.plugins.router import Router
from pilotfish.plugins.router_model import load_router
from pilotfish.plugins.router_train import pair_records, read_records, routing_curve

pytestmark = pytest.mark.real
ROOT = Path(__file__).resolve().parents[2]
SHARDS = ROOT / "datasets" / "teacher-questions" / "state"


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    """120 teacher questions, 40 on sports articles, shuffled with a fixed seed."""
    from pilotfish.data.qa_files import read_teacher_questions

    recs = [r for r in read_teacher_questions(SHARDS) if r.get("answer")]
    sports = [r for r in recs if r["doc_id"].startswith("sport")][:40]
    other = [r for r in recs if not r["doc_id"].startswith("sport")][:80]
    assert len(sports) == 40 and len(other) == 80
    out = sports + other
    random.Random(0).shuffle(out)
    return out


def write_records(path: Path, questions: list[dict], model: str, right: callable, latency: float) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps({"id": q["id"], "question": q["question"], "gold": q["answer"], "model": model,
                                "correct": bool(right(q)), "refused": False, "latency_s": latency}) + "\n")
    return path


def planted(tmp_path: Path, questions: list[dict], name: str = "") -> list[Path]:
    """Records of the cheap model (right on sports only) and the expensive one (wrong on every 7th)."""
    cheap = write_records(tmp_path / f"cheap{name}.jsonl", questions, "tiny-model",
                          lambda q: q["doc_id"].startswith("sport"), 0.5)
    expensive = write_records(tmp_path / f"expensive{name}.jsonl", questions, "big-model",
                              lambda q: sum(map(ord, q["id"])) % 7 != 0, 20.0)
    return [cheap, expensive]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, questions, run_cli) -> tuple[Path, list[Path]]:
    d = tmp_path_factory.mktemp("router")
    data = planted(d, questions)
    code, out, err = run_cli("train", "router", "--data", data[0], "--data", data[1], "--out", d / "router")
    assert code == 0, err
    assert "cheap tiny-model, expensive big-model" in out and "held-out AUROC" in out
    return d / "router", data


def test_training_learns_the_planted_topic(trained, minilm) -> None:
    router = load_router(trained[0])
    meta = router.meta
    assert (meta["cheap"], meta["expensive"], meta["embedder"]) == ("tiny-model", "big-model", "minilm")
    assert meta["heldout"]["n"] == 36 and meta["train"]["n"] == 84
    assert meta["heldout"]["auroc"] >= 0.85, meta["heldout"]
    assert not set(meta["train_ids"]) & set(meta["heldout_ids"])
    # a new question about sport scores high, one about the economy low
    p = router.probabilities(np.asarray(minilm.embed([
        "Which striker scored twice in the cup final against Chelsea?",
        "By how much did the central bank raise interest rates in March?"])))
    assert p[0] > 0.5 > p[1], p


def test_calibration_reaches_the_target_with_the_fewest_expensive_calls(trained, run_cli) -> None:
    path, data = trained
    code, out, err = run_cli("calibrate", "router", "--router", path, "--data", data[0], "--data", data[1],
                             "--target-accuracy", "0.8")
    assert code == 0, err
    assert "84 skipped: trained on" in out and "<- chosen" in out
    meta = load_router(path).meta
    cal = meta["calibration"]
    assert meta["threshold_source"] == "calibrate" and cal["n"] == 36
    assert cal["accuracy"] >= 0.8 and cal["expensive_share"] < 1.0
    # nothing cheaper reaches the target on the same held-out pairs
    pairs, _ = pair_records(read_records(data), "tiny-model", "big-model")
    held = [pr for pr in pairs if pr.key in set(meta["heldout_ids"])]
    router = load_router(path)
    from pilotfish.core.models import get_model
    from pilotfish.plugins.router_model import embed

    p = router.probabilities(embed(get_model("minilm"), [pr.question for pr in held]))
    curve = routing_curve(p, np.array([pr.cheap_ok for pr in held]), np.array([pr.expensive_ok for pr in held]))
    assert all(r["accuracy"] < 0.8 for r in curve if r["expensive_share"] < cal["expensive_share"] - 1e-3)
    code, out, err = run_cli("calibrate", "router", "--router", path, "--data", data[0], "--data", data[1],
                             "--target-accuracy", "1.0")
    assert code == 1 and "Error: no threshold reaches accuracy 1.000 on these 36 questions (the best is" in err


def test_the_plugin_routes_as_the_threshold_says_on_a_real_pilot(trained, questions) -> None:
    expensive = FakeModel(["expensive answer"], model_id="big-model")
    sport = "Which striker scored twice in the cup final against Chelsea?"
    economy = "By how much did the central bank raise interest rates in March?"

    def pilot(threshold):
        plugin = Router(path=str(trained[0]), cheap="fake", threshold=threshold)
        return Pilot(model=expensive, plugins=[plugin], use_entrypoints=False)

    p_sport = pilot(0.5).run(sport).route.scores["p_cheap_right"]
    a = pilot(0.5).run(sport)
    assert a.text == f"echo: {sport}" and a.route.model == "fake" and a.route.plugin == "router"
    assert a.route.scores["threshold"] == 0.5 and a.route.scores["cheap"] == 1.0
    assert f"p {p_sport:.3f} >= threshold 0.500: cheap" == a.route.reason
    b = pilot(0.5).run(economy)
    assert b.text == "expensive answer" and b.route.model == "big-model" and b.route.scores["cheap"] == 0.0
    # the same question goes the other way when the threshold passes its p
    c = pilot(min(1.0, p_sport + 0.01)).run(sport)
    assert c.route.model == "big-model" and "< threshold" in c.route.reason
    assert set(c.usage.models) == {"big-model"}


def test_a_specialist_that_accepts_and_beats_the_expensive_model_gets_the_request(trained, tmp_path, monkeypatch) -> None:
    import pilotfish
    from pilotfish.specialists.base import record_baseline
    from pilotfish.specialists.tabular import serialize_row

    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path))
    iris = pilotfish.get_model("specialist:tabular:iris")  # trained on first use (seconds)
    expensive = FakeModel(["expensive answer"], model_id="big-model")
    plugin = Router(path=str(trained[0]), cheap="fake", specialists=["specialist:tabular:iris"])
    pilot = Pilot(model=expensive, plugins=[plugin], use_entrypoints=False)
    row = serialize_row([5.1, 3.5, 1.4, 0.2], iris.features)
    iris.meta.pop("baselines", None)
    assert pilot.run(row).route.plugin == "router" and pilot.run(row).route.model in ("fake", "big-model")  # unmeasured
    iris.meta.update(record_baseline(iris.path, "big-model", 0.40, 30))
    answer = pilot.run(row)
    assert answer.route.model == "specialist:tabular:iris" and "beats big-model" in answer.route.reason
    assert answer.text.startswith("setosa")
    assert pilot.run("Which striker scored twice in the cup final?").route.model != "specialist:tabular:iris"
    iris.meta.update(record_baseline(iris.path, "big-model", 0.999, 30))
    assert pilot.run(row).route.model != "specialist:tabular:iris"  # measured, and not better


def test_a_router_file_from_another_embedder_or_damaged_is_a_clear_error(trained, tmp_path) -> None:
    import shutil

    bad = tmp_path / "other"
    shutil.copytree(trained[0], bad)
    meta = json.loads((bad / "router.json").read_text())
    meta["fingerprint"] = [x + 0.1 for x in meta["fingerprint"]]
    (bad / "router.json").write_text(json.dumps(meta))
    pilot = Pilot(model=FakeModel(model_id="big-model"), plugins=[Router(path=str(bad), cheap="fake")],
                  use_entrypoints=False)
    with pytest.raises(Exception, match="was trained with another embedder than the 'minilm' loaded here"):
        pilot.run("q?")
    meta["embedder"] = "st:sentence-transformers/all-mpnet-base-v2"
    (bad / "router.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="was trained with embedder 'st:sentence-transformers/all-mpnet-base-v2', "
                                         "not 'minilm'"):
        load_router(bad).check_embedder(pilotfish_minilm())
    (bad / "router.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"router .*router.json is damaged \(not JSON"):
        load_router(bad)
    shutil.copy(trained[0] / "router.json", bad / "router.json")
    (bad / "router.npz").write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"its weights .*router.npz are damaged"):
        load_router(bad)
    (bad / "router.npz").unlink()
    with pytest.raises(ModelError, match=r"its weights .*router.npz are missing"):
        load_router(bad)
    with pytest.raises(ModelError, match=r"no such file; train one with `pilotfish train router"):
        load_router(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="option 'threshold'"):
        Router(path="x", threshold=1.5)


def pilotfish_minilm():
    from pilotfish.core.models import get_model

    return get_model("minilm")


def test_bad_records_are_clear_errors(tmp_path, questions, run_cli) -> None:
    def fails(*args: object) -> str:
        code, _, err = run_cli("train", "router", *args, "--out", tmp_path / "r")
        assert code == 1 and not (tmp_path / "r").exists()
        return err

    few = planted(tmp_path, questions[:12], "-few")
    assert "too few records to train a router: 12 questions answered by both" in fails("--data", few[0], "--data", few[1])
    one = write_records(tmp_path / "one.jsonl", questions, "tiny-model", lambda q: True, 0.5)
    assert "was right on 120 of 120 questions: too few of one class" in fails(
        "--data", one, "--data", planted(tmp_path, questions)[1], "--cheap", "tiny-model")
    assert "the records hold 1 model(s) (tiny-model); give records of two models" in fails("--data", one)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"question": "q?", "model": "m", "gold": "x"}) + "\n")
    assert "broken.jsonl: line 1: a record of an answerable question needs 'correct'" in fails("--data", broken)
    with pytest.raises(InputError, match="no records of the cheap model 'smollm2-135m'"):
        pair_records(read_records(planted(tmp_path, questions)), "smollm2-135m", None)


def test_route_without_records_of_the_request_is_fast_and_reuses_the_loaded_router(trained) -> None:
    plugin = Router(path=str(trained[0]), cheap="fake")
    pilot = Pilot(model=FakeModel(model_id="big-model"), plugins=[plugin], use_entrypoints=False)
    pilot.run("warm up?")
    first = plugin.router(pilot)
    answer = pilot.run("Who won the Six Nations?")
    assert plugin.router(pilot) is first
    assert answer.route.scores["seconds"] < 0.5
    assert plugin.decide("Who won the Six Nations?", pilot).model == answer.route.model
    assert isinstance(Request("x"), Request)


def test_config_file_and_trace_show_the_decision(trained, tmp_path, run_cli) -> None:
    import shutil

    shutil.copytree(trained[0], tmp_path / "my-router")
    cfg = tmp_path / "pilotfish.toml"
    cfg.write_text('[pilotfish]\nmodel = "fake"\nplugins = ["router"]\n\n[pilotfish.plugin.router]\n'
                   'path = "my-router"\ncheap = "fake"\nexpensive = "fake"\nthreshold = 0.0\n')
    code, out, err = run_cli("ask", "--config", cfg, "--trace", "Who won the Six Nations?")
    assert code == 0, err
    assert out.startswith("echo: Who won the Six Nations?")
    assert "route (router): fake - p 0." in err and ">= threshold 0.000: cheap" in err
    code, out, err = run_cli("ask", "--config", cfg, "--json", "Who won?")
    decision = json.loads(out)["route_decision"]
    assert decision["plugin"] == "router" and decision["scores"]["threshold"] == 0.0
