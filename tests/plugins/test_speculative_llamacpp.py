"""Speculative decoding on the llama.cpp backend: identical greedy output, exact sampling distribution."""

from __future__ import annotations

import numpy as np
import pytest

import pilotfish
from pilotfish import Pilot
from pilotfish.plugins.spec_drafts import LookupDrafter, ModelDrafter, RetokenizedDrafter, softmax
from pilotfish.plugins.spec_loop import DraftPolicy, _verify, exact_batch, speculative_decode
from pilotfish.plugins.speculative import Speculative

COPY = [{"role": "user", "content": "Repeat this sentence exactly: The quick brown fox jumps over the lazy dog "
                                    "near the old river bank, and then it runs home."}]


class AlwaysDraft(DraftPolicy):
    """Drafts ``k`` tokens every step, whatever they cost: the mechanism under test, not the policy."""

    def __init__(self, target, k=4):
        super().__init__(target, k_max=k)
        self.k = k

    def length(self, available, draft_cost_per_token=0.0):
        return min(available, self.k)


def test_lookup_drafter_uses_the_latest_occurrence_and_grows_incrementally():
    d = LookupDrafter(ngram_min=2, ngram_max=3)
    assert d.propose([1, 2, 3, 9, 1, 2, 4, 5, 1, 2], 3)[0] == [4, 5, 1]  # the later "1 2" wins
    assert d.propose([1, 2, 3, 9, 1, 2, 4, 5, 1, 2, 4], 2)[0] == [5, 1]  # "2 4" after one more token
    assert d.propose([7, 8], 3)[0] == []  # not an extension: re-indexed, nothing to find


def test_policy_adapts_the_draft_length_to_the_acceptance_rate():
    class Target:
        pass

    p = DraftPolicy(Target(), k_max=15)
    p.costs.update({1: 0.05})
    assert p.length(15) == 15  # flat cost past a few positions, good acceptance: draft long
    for _ in range(6):
        p.observe_draft(15, 0)
    assert p.length(15) == 0  # nothing accepted: plain steps
    for _ in range(30):
        p.relax()
    assert p.length(15) > 0  # and drafting is tried again later


def test_lookup_greedy_is_identical_and_usage_shows_speculation(smollm2):
    plain = smollm2.generate(COPY, max_tokens=40).text
    # SmolLM2 (F16) gets other rounding from any multi-token pass on this CPU, so exact mode would never
    # draft: exact=False runs the mechanism (its greedy output still matches here)
    pilot = Pilot(model="smollm2-135m", plugins=[Speculative(draft="lookup", exact=False)])
    chunks: list[str] = []
    answer = pilot.run(COPY, max_tokens=40, on_token=chunks.append)
    assert answer.text == plain == "".join(chunks)
    spec = answer.usage.speculative["smollm2-135m"]
    assert spec.draft == "lookup" and spec.drafted > 0 and spec.accepted > 0
    assert spec.target_passes < spec.tokens  # several tokens per verification pass
    assert 0 < spec.acceptance_rate <= 1 and spec.tokens_per_s > 0
    assert answer.usage.models["smollm2-135m"].completion_tokens == spec.tokens


def test_model_drafts_same_and_other_tokenizer_are_identical(smollm2, gemma3):
    plain = smollm2.generate(COPY, max_tokens=24).text
    from pilotfish.models.packaged import gguf_path

    same = pilotfish.get_model(f"gguf:{gguf_path('smollm2-135m')}")  # a second copy: same vocabulary
    ids_len = len(smollm2.prompt_ids(COPY))
    for drafter in (ModelDrafter(same, smollm2), RetokenizedDrafter(gemma3, smollm2, COPY, ids_len)):
        gen = speculative_decode(smollm2, drafter, COPY, {"max_tokens": 24}, policy=AlwaysDraft(smollm2, 4),
                                 exact=False)
        meta = gen.metadata["speculative"]
        assert gen.text == plain, drafter.name
        assert meta["drafted"] > 0 and meta["accepted"] > 0, meta
    assert isinstance(ModelDrafter(same, smollm2), ModelDrafter)


def test_qwen_exact_lookup_is_identical(qwen):
    """Exact mode: passes no longer than the measured bitwise-equal batch, so identity is guaranteed."""
    msgs = [{"role": "user", "content": "Copy the list: red, green, blue, yellow, red, green, blue."}]
    plain = qwen.generate(msgs, max_tokens=16).text
    n = exact_batch(qwen)
    assert n >= 1
    gen = speculative_decode(qwen, LookupDrafter(), msgs, {"max_tokens": 16}, policy=AlwaysDraft(qwen, 15))
    meta = gen.metadata["speculative"]
    assert gen.text == plain
    assert meta["exact"] is True and meta["max_draft"] == n - 1
    if n > 1:
        assert meta["drafted"] > 0 and meta["target_passes"] < gen.completion_tokens


def _chi2_pvalue(samples: list[int], probs: np.ndarray) -> float:
    from scipy.stats import chisquare

    n = len(samples)
    counts = np.bincount(samples, minlength=len(probs))
    big = np.flatnonzero(probs * n >= 5)
    obs = np.append(counts[big], n - counts[big].sum())
    exp = np.append(probs[big] * n, n - probs[big].sum() * n)
    if exp[-1] < 1e-9:
        obs, exp = obs[:-1], exp[:-1]
    return float(chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def test_rejection_sampling_keeps_the_target_distribution(smollm2):
    """The first token of a verification pass follows the target's distribution: top-p with a fixed draft
    (one-hot q), and plain with a draft sampled from another distribution q; a biased rule fails."""
    ids = smollm2.prompt_ids([{"role": "user", "content": "Name one colour."}])
    base = smollm2.position_logits(ids, 1)[0]
    p = softmax(base, 1.0, 0.95)
    fixed = int(np.argmax(p))
    rows = smollm2.position_logits(ids + [fixed], 2)
    rng = np.random.default_rng(0)
    n = 1500
    first = [_verify(rows, [fixed], None, 1.0, 0.95, rng)[0] for _ in range(n)]
    assert _chi2_pvalue(first, p) > 1e-3
    q = softmax(base, 0.5)  # a sharper draft distribution
    got = []
    for _ in range(n):
        x = int(rng.choice(len(q), p=q))
        got.append(_verify(np.stack([base, base]), [x], [q], 1.0, 1.0, rng)[0])
    assert _chi2_pvalue(got, softmax(base)) > 1e-3
    # the test can fail: keeping the draft with probability sqrt(p(x)) instead of p(x) is biased
    residual = p.copy()
    residual[fixed] = 0
    residual /= residual.sum()
    biased = [fixed if rng.random() < np.sqrt(p[fixed]) else int(rng.choice(len(p), p=residual)) for _ in range(n)]
    assert _chi2_pvalue(biased, p) < 1e-3


def test_sampled_generation_runs_and_is_seeded(smollm2):
    params = {"max_tokens": 12, "temperature": 0.8, "seed": 3}
    a = speculative_decode(smollm2, LookupDrafter(), COPY, params, policy=AlwaysDraft(smollm2, 4), exact=False)
    b = speculative_decode(smollm2, LookupDrafter(), COPY, params, policy=AlwaysDraft(smollm2, 4), exact=False)
    assert a.text == b.text and a.completion_tokens > 0


def test_black_box_models_are_a_clear_error():
    black = "openai:gpt-4o-mini@http://127.0.0.1:9/v1"
    with pytest.raises(pilotfish.PluginError, match="needs a white-box model"):
        Pilot(model=black, plugins=[Speculative(draft="lookup")]).run("q", max_tokens=2)
    with pytest.raises(pilotfish.PluginError, match="needs a white-box model"):
        Pilot(model="smollm2-135m", plugins=[Speculative(draft=black)]).run("q", max_tokens=2)
