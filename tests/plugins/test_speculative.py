"""Speculative decoding: the output must be identical to the target model's own greedy output."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import Pilot
from pilotfish.plugins.speculative import Speculative

pytestmark = pytest.mark.real


def test_identical_output_across_tokenizers(hf_gemma3, hf_smollm2):
    """Gemma 3 270M target, SmolLM2-135M draft (different tokenizers)."""
    pilot = Pilot(model="hf:gemma3-270m", plugins=[Speculative(draft="hf:smollm2-135m", num_assistant_tokens=4)])
    prompt = "The history of the BBC began in 1922, when"
    answer = pilot.run(prompt, max_tokens=8)
    assert answer.text == hf_gemma3.generate(prompt, max_tokens=8).text
    assert answer.generation.metadata["speculative"] == {"draft": "hf:smollm2-135m", "same_tokenizer": False}
    assert answer.usage.models["hf:gemma3-270m"].completion_tokens == answer.generation.completion_tokens


def test_identical_output_with_a_same_tokenizer_draft_and_streaming(hf_smollm2):
    draft = pilotfish.get_model("truncate:8:hf:smollm2-135m")
    assert draft.model.config.num_hidden_layers == 8
    pilot = Pilot(model="hf:smollm2-135m", plugins=[Speculative(draft=draft.model_id, num_assistant_tokens=3)])
    q = "Name a colour."
    stream = pilot.stream(q, max_tokens=10)
    streamed = "".join(stream)
    assert streamed == stream.answer.text == hf_smollm2.generate(q, max_tokens=10).text
    assert stream.answer.generation.metadata["speculative"]["same_tokenizer"] is True


def test_streaming_holds_back_and_never_streams_a_stop_sequence(hf_smollm2):
    draft = pilotfish.get_model("truncate:8:hf:smollm2-135m")
    pilot = Pilot(model="hf:smollm2-135m", plugins=[Speculative(draft=draft.model_id, num_assistant_tokens=3)])
    q = "Write one sentence about the sea."
    full = hf_smollm2.generate(q, max_tokens=24).text
    words = full.split()
    assert len(words) >= 6, full
    stop = " " + " ".join(words[3:5])  # a two-word stop sequence from the middle of the greedy answer
    chunks: list[str] = []
    stream = pilot.stream(q, max_tokens=24, stop=[stop])
    for chunk in stream:
        chunks.append(chunk)
    expected = full[: full.index(stop)]
    assert "".join(chunks) == stream.answer.text == expected
    assert stream.answer.generation.finish_reason == "stop"
    # generation stopped at the stop sequence instead of running to max_tokens
    assert stream.answer.generation.completion_tokens < 24


def test_black_box_or_same_model_is_a_clear_error():
    with pytest.raises(pilotfish.PluginError, match="needs a white-box model"):
        Pilot(model=pilotfish.FakeModel(), plugins=[Speculative(draft="fake")], use_entrypoints=False).run("q")
    with pytest.raises(pilotfish.PluginError, match="the draft 'hf:smollm2-135m' is the routed model itself"):
        Pilot(model="hf:smollm2-135m", plugins=[Speculative(draft="hf:smollm2-135m")]).run("q", max_tokens=2)
