"""The transformers backend (``hf:`` ids: training, truncated drafts) and MiniLM, on the real packaged weights."""

from __future__ import annotations

import time

import numpy as np
import pytest

import pilotfish
from pilotfish import ContextLengthError, Pilot

pytestmark = pytest.mark.real


def test_smollm2_answers_a_chat_prompt(hf_smollm2):
    gen = hf_smollm2.generate([{"role": "user", "content": "What is the capital of France? One sentence."}], max_tokens=20)
    assert "Paris" in gen.text
    assert gen.completion_tokens == len(gen.logprobs) == len(gen.tokens) > 0
    assert all(lp <= 0 for lp in gen.logprobs)
    assert gen.prompt_tokens > 10 and gen.finish_reason in ("stop", "length")


def test_greedy_is_deterministic_and_sampling_follows_the_seed(hf_smollm2):
    a = hf_smollm2.generate("Name three colours.", max_tokens=15)
    b = hf_smollm2.generate("Name three colours.", max_tokens=15)
    assert a.text == b.text and a.logprobs == b.logprobs
    s1 = hf_smollm2.generate("Write a word.", max_tokens=10, temperature=1.0, seed=1)
    s2 = hf_smollm2.generate("Write a word.", max_tokens=10, temperature=1.0, seed=1)
    assert s1.text == s2.text


def test_streaming_yields_the_same_text_as_generate(hf_smollm2):
    prompt = "List the days of the week."
    full = hf_smollm2.generate(prompt, max_tokens=30).text
    assert "".join(hf_smollm2.stream(prompt, max_tokens=30)) == full
    pilot = Pilot(model="hf:smollm2-135m", use_entrypoints=False)
    stream = pilot.stream(prompt, max_tokens=30)
    chunks = list(stream)
    assert len(chunks) > 3 and "".join(chunks) == stream.answer.text == full


def test_stop_sequences_and_max_tokens(hf_smollm2):
    gen = hf_smollm2.generate("Count from 1 to 10, separated by commas.", max_tokens=40, stop=["5"])
    assert "5" not in gen.text and gen.finish_reason == "stop"
    assert hf_smollm2.generate("Tell me a long story.", max_tokens=3).completion_tokens == 3


def test_context_overflow(hf_smollm2):
    with pytest.raises(ContextLengthError, match=r"the prompt is \d+ tokens; hf:smollm2-135m accepts at most 8192"):
        hf_smollm2.generate("hello " * 9000, max_tokens=5)
    from pilotfish.models.hf import HFCausalLM

    # the same weights with a small window: max_tokens is cut to what fits, with a warning
    small = HFCausalLM(hf_smollm2.model, hf_smollm2.tokenizer, "smollm2-ctx128", context_window=128)
    with pytest.warns(pilotfish.PilotfishWarning, match=r"max_tokens 500 cut to \d+ to fit the context window") as rec:
        gen = small.generate("Write a long story about a cat. " * 5, max_tokens=500)
    assert rec[0].filename == __file__  # the warning points at the caller of generate
    assert gen.prompt_tokens + gen.completion_tokens <= 128


def test_white_box_access(hf_smollm2):
    ids = hf_smollm2.prompt_ids("Hi")
    logits, past = hf_smollm2.next_token_logits(ids)
    assert logits.shape == (hf_smollm2.vocab_size,)
    # the cache is reused: feeding one more id gives the same logits as a fresh full pass
    nxt = int(logits.argmax())
    cached, _ = hf_smollm2.next_token_logits(ids + [nxt], past)
    fresh, _ = hf_smollm2.next_token_logits(ids + [nxt])
    assert float((cached - fresh).abs().max()) < 1e-3
    lp = hf_smollm2.token_logprobs(" Paris.", prefix="The capital of France is")
    lp_bad = hf_smollm2.token_logprobs(" Banana.", prefix="The capital of France is")
    assert sum(lp) > sum(lp_bad)


def test_models_are_loaded_once_and_shared_under_threads():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: pilotfish.get_model("smollm2"), range(8)))
    assert all(m is got[0] for m in got)
    assert pilotfish.get_model("smollm2-135m") is got[0]


def test_minilm_embeds(minilm):
    v = minilm.embed(["a cat sat on the mat", "a kitten sat on the rug", "stock markets fell"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_conversion_cache_is_reused(tmp_path, monkeypatch):
    from pilotfish.models.hf import HFCausalLM, converted_path, ensure_converted

    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path))
    t0 = time.perf_counter()
    path = ensure_converted("smollm2-135m")
    first = HFCausalLM.from_pretrained(str(path), model_id="smollm2-135m")
    first_s = time.perf_counter() - t0
    assert path == converted_path("smollm2-135m") and (path / "model.safetensors").is_file()
    t0 = time.perf_counter()
    again = HFCausalLM.from_pretrained(str(ensure_converted("smollm2-135m")), model_id="smollm2-135m")
    cached_s = time.perf_counter() - t0
    print(f"smollm2-135m load: first (GGUF conversion) {first_s:.1f} s, cached {cached_s:.2f} s")
    assert cached_s < first_s / 3
    prompt = "Say hi."
    assert first.generate(prompt, max_tokens=5).text == again.generate(prompt, max_tokens=5).text
    # a damaged copy (a truncated weights file) is converted again, never loaded
    weights = path / "model.safetensors"
    data = weights.read_bytes()
    weights.unlink()  # a new, shorter file: the loaded models keep their memory map of the old one
    weights.write_bytes(data[: len(data) // 2])
    with pytest.warns(pilotfish.PilotfishWarning, match="damaged or incomplete") as rec:
        rebuilt = ensure_converted("smollm2-135m")
    assert rec[0].filename == __file__  # the warning points at the caller of ensure_converted
    assert HFCausalLM.from_pretrained(str(rebuilt)).generate(prompt, max_tokens=5).text == first.generate(prompt, max_tokens=5).text


def test_missing_local_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(pilotfish.ModelError, match="could not load causal LM"):
        pilotfish.get_model(f"hf:{tmp_path / 'nothing'}")


def test_a_missing_package_says_which_pip_install_fixes_it():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sentence_transformers'] = None\n"
        "import pilotfish\n"
        "try:\n    pilotfish.get_model('minilm')\n"
        "except pilotfish.MissingDependencyError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'sentence-transformers' is not installed" in out and "pip install 'pilotfish[models]'" in out
