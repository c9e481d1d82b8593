"""Proxy-tuning on the real Qwen2.5-1.5B (llama.cpp) with a small pair cut from it and trained here.

The pair is made in a temporary folder from the cached first-4-layers copy (``<cache>/models/qwen2.5-first4``,
dequantized once from the packaged GGUF in about 40 s, shared with ``pilotfish train proxy-pair``):
one layer and the norm trained for 2 distillation + 4 gold-token steps on two articles' first 32 tokens.
"""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import Pilot
from pilotfish.core.hookspecs import hookimpl
from pilotfish.plugins.proxy_tune import ProxyTune

pytestmark = pytest.mark.real

PROMPT = "Write one sentence of BBC business news about the steel industry."


@pytest.fixture(scope="module")
def pair(tmp_path_factory, qwen):
    from pilotfish.data.proxy_pair import make_proxy_pair

    out = tmp_path_factory.mktemp("proxy-pair")
    record = make_proxy_pair(out, layers=4, train_layers=1, seq_len=32, distill_steps=2, tune_steps=4, heldout=5,
                             eval_articles=2, eval_tokens=48, train_articles=2, seed=0)
    return out, record


def test_the_tuned_model_learned_its_training_text(pair):
    from pilotfish.data.proxy_pair import perplexity, windows

    out, record = pair
    assert record["layers"] == 4 and record["train_layers"] == 1 and record["train_windows"] == 2
    assert not set(record["train_articles"]) & set(record["heldout_articles"])
    tuned = pilotfish.get_model(f"hf:{out}/tuned")
    base = pilotfish.get_model(f"hf:{out}/base")
    first = pilotfish.get_model(f"hf:{record['first_layers']}")
    # only the trained tensors are the tuned model's own; the embeddings and head are shared with the base
    assert tuned.model.model.embed_tokens.weight is first.model.model.embed_tokens.weight
    assert tuned.model.model.layers[3].mlp.up_proj.weight is not base.model.model.layers[3].mlp.up_proj.weight
    from pilotfish.data.corpora import bbc_records

    by_id = {r["id"]: r["text"] for r in bbc_records()}
    train = windows(tuned, [by_id[i] for i in record["train_articles"]], 32)
    ppl_tuned, ppl_base, ppl_first = perplexity(tuned, train), perplexity(base, train), perplexity(first, train)
    assert ppl_tuned < ppl_base and ppl_tuned < ppl_first / 10, (ppl_tuned, ppl_base, ppl_first)
    assert record["loss_tuned_first_last"][1] < record["loss_tuned_first_last"][0]


class IdentityProcessor:
    """A logits processor that changes nothing (the engine's processor path, without a change)."""

    @hookimpl
    def logits_processors(self, request, model, pilot):
        return [lambda input_ids, scores: scores]


def test_proxy_tuned_greedy_differs_from_plain_and_alpha_zero_is_plain(pair, qwen):
    out, _ = pair
    ids = {"tuned": f"hf:{out}/tuned", "base": f"hf:{out}/base"}
    plain = Pilot(model="qwen2.5-1.5b").run(PROMPT, max_tokens=8).text
    # the engine's processor path (scores as a tensor, sampled by pilotfish) may break a near-tie of the native
    # path differently, so alpha = 0 is compared with an identity processor on that same path
    same_path = Pilot(model="qwen2.5-1.5b", plugins=[IdentityProcessor()]).run(PROMPT, max_tokens=8).text
    zero = Pilot(model="qwen2.5-1.5b", plugins=[ProxyTune(alpha=0.0, **ids)]).run(PROMPT, max_tokens=8)
    assert zero.text == same_path
    assert ("logits_processors", "proxy-tune") in {(e.hook, e.plugin) for e in zero.trace}
    # this test pair had 4 tuning steps: at alpha 1 its offset changed the 8 greedy tokens on one machine and
    # not on another (CI), so the steering is checked where the offset dominates Qwen's own margins
    steered = Pilot(model="qwen2.5-1.5b", plugins=[ProxyTune(alpha=10.0, **ids)]).run(PROMPT, max_tokens=8)
    assert steered.text != plain, steered.text


def test_a_pair_with_another_tokenizer_or_a_black_box_model_is_a_clear_error(pair, qwen, smollm2):
    out, _ = pair
    other = ProxyTune(tuned="smollm2-135m", base=f"hf:{out}/base")
    with pytest.raises(pilotfish.PluginError, match=r"'smollm2-135m' does not share the large model 'qwen2.5-1.5b''s "
                                                    r"tokenizer \(qwen2.5-1.5b has a vocabulary of 151,936 tokens, "
                                                    r"smollm2-135m 49,152\)"):
        Pilot(model="qwen2.5-1.5b", plugins=[other]).run("q", max_tokens=2)
    with pytest.raises(pilotfish.PluginError, match="plugin 'proxy-tune' needs a white-box model.*'fake' is black-box"):
        Pilot(model="fake", plugins=[ProxyTune(tuned=f"hf:{out}/tuned", base=f"hf:{out}/base")]).run("q", max_tokens=2)
    with pytest.raises(pilotfish.PluginError, match="'fake' is black-box"):
        Pilot(model="qwen2.5-1.5b", plugins=[ProxyTune(tuned="fake", base=f"hf:{out}/base")]).run("q", max_tokens=2)
    with pytest.raises(pilotfish.ConfigError, match="option 'alpha'"):
        ProxyTune(alpha=-1)


def test_the_pair_ids_say_how_to_train_the_pair(tmp_path, monkeypatch):
    from pilotfish.models.qwen_small import pair_path

    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path))
    with pytest.raises(pilotfish.ModelError, match="proxy-tuning pair is not trained.*pilotfish train proxy-pair"):
        pair_path("tuned")
