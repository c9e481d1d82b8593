"""Contrastive decoding through the logits_processors hook, on the real SmolLM2."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import Pilot, hookimpl
from pilotfish.plugins.contrastive import Contrastive

pytestmark = pytest.mark.real


def test_beta_zero_is_plain_greedy_and_beta_changes_the_text(hf_smollm2):
    q = "Write a sentence about football in England."
    greedy = hf_smollm2.generate(q, max_tokens=20).text
    same = Pilot(model="hf:smollm2-135m", plugins=[Contrastive(amateur="truncate:16:hf:smollm2-135m", beta=0.0)])
    assert same.run(q, max_tokens=20).text == greedy
    cd = Pilot(model="hf:smollm2-135m", plugins=[Contrastive(amateur="truncate:16:hf:smollm2-135m", beta=0.5)])
    answer = cd.run(q, max_tokens=20)
    assert answer.text != greedy
    assert ("logits_processors", "contrastive") in {(e.hook, e.plugin) for e in answer.trace}


def test_processors_from_several_plugins_are_applied_in_order(hf_smollm2):
    banned = hf_smollm2.encode(" football")[0]

    class Ban:
        @hookimpl
        def logits_processors(self, model):
            def ban(input_ids, scores):
                scores[:, banned] = float("-inf")
                return scores
            return [ban]

    pilot = Pilot(model="hf:smollm2-135m", plugins=[Ban()])
    gen = pilot.run("Which sport is played with a round ball in England? One word.", max_tokens=10).generation
    assert banned not in [hf_smollm2.encode(t)[0] for t in gen.tokens if t.strip()]


def test_amateur_with_another_tokenizer_or_black_box_is_a_clear_error(hf_gemma3):
    with pytest.raises(pilotfish.PluginError, match="does not share the expert 'hf:smollm2-135m''s tokenizer"):
        Pilot(model="hf:smollm2-135m", plugins=[Contrastive(amateur="hf:gemma3-270m")]).run("q", max_tokens=2)
    with pytest.raises(pilotfish.PluginError, match="needs a white-box model"):
        Pilot(model="hf:smollm2-135m", plugins=[Contrastive(amateur="fake")]).run("q", max_tokens=2)
    with pytest.raises(pilotfish.ConfigError, match="option 'alpha'"):
        Contrastive(alpha=0)
