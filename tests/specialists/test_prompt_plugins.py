"""``examples`` (kNN few-shot selection, MMR) and ``supericl`` (the classifier's hint) — issue 15, items 3-4."""

from __future__ import annotations

import json

import pytest

from pilotfish.core.errors import InputError, PluginError
from pilotfish.plugins.examples import Examples
from pilotfish.plugins.supericl import SuperICL

FOOTBALL = ["The striker scored twice as United won the cup final.", "Chelsea sacked their manager after a 3-0 defeat.",
            "The goalkeeper saved a penalty in the last minute of the derby.", "Arsenal signed a new midfielder for 20m."]
COOKING = ["Simmer the onions in butter until golden, then add the stock.", "Bake the bread at 220C for 30 minutes.",
           "Whisk the eggs with sugar and fold in the flour.", "Season the roast chicken with thyme and garlic."]
CODE = ["The function returns None when the list is empty.", "Compile the program with optimisations turned on.",
        "A segmentation fault means the pointer was invalid.", "Use a dictionary to count the words in the file."]


def pool_file(tmp_path, rows, name="pool.jsonl"):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


@pytest.fixture
def pool(tmp_path):
    rows = [{"input": t, "output": topic} for topic, texts in (("football", FOOTBALL), ("cooking", COOKING),
                                                               ("code", CODE)) for t in texts]
    return pool_file(tmp_path, rows)


def test_examples_picks_the_most_similar_solved_examples_into_the_prompt(make_pilot, pool) -> None:
    pilot = make_pilot(Examples(pool=str(pool), k=3))
    answer = pilot.run("Who scored the winning goal in the match on Saturday?")
    chosen = answer.request.examples
    assert [e["output"] for e in chosen] == ["football"] * 3
    scores = [e["score"] for e in chosen]
    assert scores == sorted(scores)  # the most similar last, nearest the question
    assert answer.request.metadata["examples"][0]["score"] == max(scores)
    messages = pilot.hooks.build_messages(answer.request, [], pilot)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3 + ["user"]
    assert messages[1]["content"] == "football" and messages[-1]["content"].startswith("Who scored")
    # cooking matches cooking
    again = pilot.run("How long should I knead the dough before baking?")
    assert {e["output"] for e in again.request.examples} == {"cooking"}


def test_mmr_keeps_near_copies_from_filling_every_slot(tmp_path, minilm) -> None:
    copy = "Manchester United won the league title after a 2-0 win at Old Trafford."
    rows = [{"input": copy, "output": "a"}] * 3 + [{"input": t, "output": "b"} for t in FOOTBALL + COOKING]
    path = pool_file(tmp_path, rows)
    question = "Manchester United won the league title with a 2-0 win at Old Trafford on Sunday."
    plain = Examples(pool=str(path), k=3).choose(question)
    diverse = Examples(pool=str(path), k=3, diversity="mmr", mmr_lambda=0.5).choose(question)
    assert [e["input"] for e in plain] == [copy] * 3
    assert [e["input"] for e in diverse].count(copy) == 1
    assert diverse[0]["input"] == copy and {e["output"] for e in diverse[1:]} == {"b"}
    # the query itself is never its own example
    same = Examples(pool=str(path), k=1).choose(copy)
    assert same[0]["input"] != copy


@pytest.mark.parametrize(("lines", "message"), [
    (['{"input": "a", "output": "b"}', '{"input": "c", "label": "d"}'],
     r"example pool .*pool\.jsonl: line 2: missing field 'output' \(fields: input, label\)"),
    (['{"input": "a", "output": "b"}', "", '{"input": "a", "output": "b",'], r"pool\.jsonl: line 3 is not valid JSON"),
    (['["a", "b"]'], r"pool\.jsonl: line 1 is a JSON list, expected an object"),
    (['{"input": "a", "output": 3}'], r"pool\.jsonl: line 1: field 'output' must be a non-empty string, got 3"),
    ([], r"example pool .*pool\.jsonl is empty"),
])
def test_a_bad_pool_is_a_clear_error_naming_file_line_and_field(tmp_path, make_pilot, lines, message) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    with pytest.raises(InputError, match=message):
        Examples(pool=str(path)).choose("question")
    with pytest.raises(PluginError, match=r"plugin 'examples' in hook 'before_prompt': InputError: .*" + message):
        make_pilot(Examples(pool=str(path))).run("question")
    with pytest.raises(InputError, match=r"example pool .*missing\.jsonl' does not exist"):
        Examples(pool=str(tmp_path / "missing.jsonl")).choose("question")


def test_supericl_puts_the_classifiers_label_and_confidence_into_the_prompt(make_pilot, small_topic, pool) -> None:
    text = "Shares in the carmaker fell 4% after it cut its profit forecast for the year."
    expected = small_topic.predict(text)
    pilot = make_pilot(SuperICL(classifier=str(small_topic.path)), Examples(pool=str(pool), k=2, input_field="input"))
    answer = pilot.run(text)  # the fake model echoes the question it got
    hint = f"A fine-tuned classifier predicts: {expected.label} (confidence {expected.confidence:.2f})."
    assert hint in answer.text and "it can be wrong" in answer.text
    assert answer.request.metadata["supericl"]["label"] == expected.label
    # every in-context example shows the classifier's prediction too (the SuperICL format)
    assert all("A fine-tuned classifier predicts:" in e["input"] for e in answer.request.examples)
    # only for its task when `task` is set
    other = make_pilot(SuperICL(classifier=str(small_topic.path), task="bbc-topic")).run(text)
    assert "classifier" not in other.text


def test_supericl_needs_a_specialist(make_pilot) -> None:
    with pytest.raises(PluginError, match=r"classifier 'fake' is not a specialist"):
        make_pilot(SuperICL(classifier="fake")).run("hello")


@pytest.mark.real
def test_the_hint_turns_qwens_wrong_topic_into_the_right_one(make_pilot, small_topic, qwen) -> None:
    # "Ad sales boost Time Warner profit": Qwen2.5-1.5B alone calls it tech (benchmarks/superICL.py)
    from pilotfish.data.corpora import bbc_records

    text = next(r for r in bbc_records() if r["id"] == "business/001")["text"][:600]
    assert small_topic.predict(text).label == "business"
    question = ("What is the topic of this BBC news article? Answer with one word: business, entertainment, politics, "
                f"sport or tech.\n\nArticle: {text}")
    answers = []
    for plugins in ((), (SuperICL(classifier=str(small_topic.path)),)):
        pilot = make_pilot(*plugins, model="qwen2.5-1.5b")
        request = pilot.make_request(question, max_tokens=4).replace(metadata={"input": text})
        answers.append(pilot.run(request).text.strip().lower())
    assert answers[0].startswith("tech") and answers[1].startswith("business"), answers


def test_bad_options_are_config_errors_naming_the_option(tmp_path) -> None:
    from pilotfish.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"plugin 'examples': option 'k'"):
        Examples(pool="pool.jsonl", k=0)
    with pytest.raises(ConfigError, match=r"plugin 'examples': option 'diversity'"):
        Examples(pool="pool.jsonl", diversity="maybe")
    with pytest.raises(ConfigError, match=r"plugin 'examples': option 'pool' is required"):
        Examples()
    with pytest.raises(ConfigError, match=r"plugin 'supericl': unknown option 'clasifier'"):
        SuperICL(clasifier="specialist:bbc-topic")
