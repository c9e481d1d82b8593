"""Speculative decoding: a draft proposes tokens, the large model verifies them.

Two paths, by the routed (target) model:

- a llama.cpp target (``qwen2.5-1.5b``, ``gguf:`` files): :mod:`.spec_loop` verifies drafted tokens in one
  batched pass each, rolls the KV cache back past the first rejection, adapts the draft length, and keeps
  greedy output identical to the target's (rejection sampling when sampling). ``draft`` is ``"lookup"``
  (n-grams from the prompt and the answer so far), a llama.cpp model with the same vocabulary, or one with
  another tokenizer (``"smollm2-135m"``: text re-tokenised at the boundary, as Universal Assisted
  Generation does); see :mod:`.spec_drafts`;
- a transformers target (``hf:`` ids) with a transformers draft: Hugging Face's assisted generation,
  described below.

The ``generate`` strategy uses Hugging Face's assisted generation for ``hf:`` models. With greedy decoding
the output is identical to the large model's own greedy output; it is faster when the draft's guesses are
accepted often. The draft may use a different tokenizer (Gemma target, SmolLM2 draft): then
transformers' universal assisted generation re-tokenizes the draft's text for the target.

Config::

    [pilotfish]
    model = "qwen2.5-1.5b"
    plugins = ["speculative"]

    [pilotfish.plugin.speculative]
    draft = "lookup"          # or "smollm2-135m", or "hf:smollm2-135m" for an hf: target
    num_assistant_tokens = 8  # transformers path only

Both models must be local (white-box): a black-box target or draft is a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pilotfish.core.errors import PilotfishError, WhiteBoxRequiredError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.models import apply_stop, current_usage
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Generation, Message, Request


class _Streamer:
    """A transformers streamer that forwards newly decoded text to ``on_token``.

    Text that may be the start of a stop sequence is held back until it is not (or generation
    ends), and nothing from a stop sequence on is ever streamed: the stream equals the answer.
    """

    def __init__(self, tokenizer: Any, prompt_len: int, on_token: Any, stop: Sequence[str] = ()):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.on_token = on_token
        self.stop = [x for x in stop if x]
        self.holdback = max((len(x) for x in self.stop), default=1) - 1
        self.ids: list[int] = []
        self.emitted = 0
        self.skipped_prompt = False
        self.stopped = False

    def put(self, value: Any) -> None:
        ids = value.reshape(-1).tolist()
        if not self.skipped_prompt:  # generate() first puts the prompt
            self.skipped_prompt = True
            return
        if self.stopped:
            return
        self.ids.extend(ids)
        from pilotfish.core.models import emit_stable

        text, hit = apply_stop(self.tokenizer.decode(self.ids, skip_special_tokens=True), self.stop)
        if hit:
            self.stopped = True
            if len(text) > self.emitted:
                self.on_token(text[self.emitted:])
                self.emitted = len(text)
            return
        self.emitted = emit_stable(self.on_token, text, self.emitted, self.holdback)

    def end(self) -> None:
        if self.stopped:
            return
        text, _ = apply_stop(self.tokenizer.decode(self.ids, skip_special_tokens=True), self.stop)
        if len(text) > self.emitted:  # what was held back
            self.on_token(text[self.emitted:])
            self.emitted = len(text)


def _stop_criteria(tokenizer: Any, prompt_len: int, stop: list[str]) -> Any:
    """Stop when the decoded completion contains a stop sequence. (transformers' own ``stop_strings``
    fails under assisted generation: the assistant's generate call gets no tokenizer.)"""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _TextStop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            # the tail of the completion is enough: a stop sequence ends in the newest tokens
            tail = input_ids[0, max(prompt_len, input_ids.shape[1] - 64):].tolist()
            hit = apply_stop(tokenizer.decode(tail, skip_special_tokens=True), stop)[1]
            return torch.full((input_ids.shape[0],), hit, dtype=torch.bool)

    return StoppingCriteriaList([_TextStop()])


def same_tokenizer(a: Any, b: Any) -> bool:
    return bool(a.get_vocab() == b.get_vocab()) if len(a) == len(b) else False


def speculative_generate(target: Any, draft: Any, messages: list[Message], params: dict[str, Any],
                         on_token: Any = None, num_assistant_tokens: int | None = None) -> Generation:
    """Generate with ``target`` using ``draft`` as the assistant (both HFCausalLM)."""
    import time

    import torch

    from pilotfish.models.hf import HFCausalLM

    for m in (target, draft):
        if not getattr(m, "white_box", False):
            raise WhiteBoxRequiredError("speculative", m)
        if not isinstance(m, HFCausalLM):
            raise PilotfishError(
                f"speculative: {m.model_id!r} runs on llama.cpp; this plugin drives transformers' assisted "
                f"generation, so name the transformers copies (e.g. model = 'hf:{m.model_id}')")
    ids = target.prompt_ids(messages)
    max_new = int(params.get("max_tokens", 256))
    temperature = float(params.get("temperature", 0.0))
    kwargs: dict[str, Any] = {
        "max_new_tokens": max_new,
        "assistant_model": draft.model,
        "do_sample": temperature > 0,
        "return_dict_in_generate": True,
        "output_scores": True,
        "pad_token_id": target.tokenizer.pad_token_id or (target.eos_token_ids[0] if target.eos_token_ids else 0),
    }
    if temperature > 0:
        kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)))
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    if not same_tokenizer(target.tokenizer, draft.tokenizer):
        kwargs.update(tokenizer=target.tokenizer, assistant_tokenizer=draft.tokenizer)
    if num_assistant_tokens:
        draft.model.generation_config.num_assistant_tokens = num_assistant_tokens
    stop = [x for x in (params.get("stop") or []) if x]
    if stop:  # stop generating at a stop sequence (the text is cut there below)
        kwargs["stopping_criteria"] = _stop_criteria(target.tokenizer, len(ids), stop)
    if on_token is not None:
        kwargs["streamer"] = _Streamer(target.tokenizer, len(ids), on_token, stop)
    if params.get("seed") is not None:
        torch.manual_seed(int(params["seed"]))
    first, second = sorted((target, draft), key=id)  # a fixed lock order: no deadlock between pilots
    start = time.perf_counter()
    with first._lock, second._lock, torch.inference_mode():
        out = target.model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), **kwargs)
    latency = time.perf_counter() - start
    new = out.sequences[0, len(ids):].tolist()
    logprobs = []
    for step, token in enumerate(new):
        if step < len(out.scores):
            logprobs.append(float(torch.log_softmax(out.scores[step][0].float(), -1)[token]))
    finish = "length"
    while new and new[-1] in target.eos_token_ids:
        new.pop()
        finish = "stop"
    logprobs = logprobs[: len(new)]
    text, hit = apply_stop(target.decode(new), params.get("stop") or [])
    if hit:
        finish = "stop"
    usage = current_usage()
    if usage is not None:
        usage.record(target.model_id, len(ids), len(new), latency)
    return Generation(
        text=text,
        model=target.model_id,
        tokens=[target.tokenizer.decode([t]) for t in new],
        logprobs=logprobs,
        prompt_tokens=len(ids),
        completion_tokens=len(new),
        finish_reason=finish,
        latency_s=latency,
        metadata={"speculative": {"draft": draft.model_id, "same_tokenizer": "tokenizer" not in kwargs}},
    )


class Speculative(Plugin):
    """``generate`` strategy: the routed (large) model verifies tokens drafted by a small model."""

    name = "speculative"

    class Options(PluginOptions):
        draft: str = "lookup"
        """``lookup`` (n-gram prompt lookup), or the id of a small local model: a llama.cpp model for a
        llama.cpp target (same vocabulary: token ids directly; another: re-tokenised text), a transformers
        model for a transformers target (assisted generation)."""
        num_assistant_tokens: int | None = None
        """Tokens drafted per step on the transformers path (transformers adapts it when unset)."""
        max_draft: int = 15
        """The most tokens drafted per step on the llama.cpp path (the length adapts below it)."""
        exact: bool = True
        """llama.cpp path: verify no more positions per pass than give logits bitwise equal to plain decoding
        (greedy output identical token for token). ``False`` lets longer passes use llama.cpp's faster batch
        kernels, whose rounding differs: faster on a CPU, and a near-tie may break the other way."""

    @hookimpl
    def generate(self, request: Request, messages: list[Message], model: Any, on_token: Any, pilot: Any) -> Generation:
        if not getattr(model, "white_box", False):
            raise WhiteBoxRequiredError("speculative", model)
        draft_id = self.options.draft
        if hasattr(model, "position_logits"):  # llama.cpp: verify in batched passes
            from .spec_loop import speculative_decode

            drafter = _llamacpp_drafter(model, draft_id, messages, pilot)
            return speculative_decode(model, drafter, messages, request.params, on_token, k_max=self.options.max_draft,
                                      exact=self.options.exact)
        if draft_id == "lookup":
            raise PilotfishError(f"speculative: draft = 'lookup' needs a llama.cpp target; {model.model_id!r} is a "
                                 "transformers model (give a transformers draft, e.g. draft = 'hf:smollm2-135m')")
        draft = pilot.get_model(draft_id)
        if draft is model:
            raise PilotfishError(
                f"the draft {draft_id!r} is the routed model itself; "
                "choose a smaller draft model"
            )
        return speculative_generate(model, draft, messages, request.params, on_token, self.options.num_assistant_tokens)


def _llamacpp_drafter(target: Any, draft_id: str, messages: list[Message], pilot: Any) -> Any:
    from .spec_drafts import LookupDrafter, ModelDrafter, RetokenizedDrafter

    if draft_id == "lookup":
        return LookupDrafter()
    draft = pilot.get_model(draft_id)
    if draft is target:
        raise PilotfishError(f"the draft {draft_id!r} is the routed model itself; choose a smaller draft model")
    if not getattr(draft, "white_box", False):
        raise WhiteBoxRequiredError("speculative", draft)
    if not hasattr(draft, "next_token_logits") or not hasattr(draft, "prompt_ids"):
        raise PilotfishError(f"speculative: the draft {draft_id!r} has no next-token logits")
    sig = getattr(target, "vocab_signature", None)
    if sig is not None and getattr(draft, "vocab_signature", None) is not None and sig() == draft.vocab_signature():
        return ModelDrafter(draft, target)
    return RetokenizedDrafter(draft, target, messages, len(target.prompt_ids(messages)))
