"""The continuous-batching engine loop of :class:`~pilotfish.models.llamacpp.LlamaCppModel`.

Every ``generate`` call (from any thread) becomes a job; one loop per model decodes one token of every
running job in a single ``llama_decode`` call (llama.cpp sequences), admits new jobs between steps and
feeds long prompts in chunks, so running jobs keep streaming. :class:`EngineLoop` is a mixin: the model
provides the KV-cache and decoding primitives (``_decode``, ``_reuse_prefix``, ``_lock``, ``_cv``...).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pilotfish.core.errors import ModelError
from pilotfish.core.models import GenerationParams, Prompt, apply_stop, emit_stable, normalize_prompt
from pilotfish.core.types import Generation, Message

from .context import fit_max_tokens


def log_softmax(row: np.ndarray) -> np.ndarray:
    m = row.max()
    shifted = row - m
    return shifted - np.log(np.exp(shifted).sum())


@dataclass
class Job:
    ids: list[int]
    max_new: int
    params: GenerationParams
    on_token: Callable[[str], None] | None
    processors: list[Any]
    rng: np.random.Generator
    holdback: int
    capture: bool = False
    """Stop after the first step and keep its log-probs (``first_token_logprobs``)."""
    first_logprobs: np.ndarray | None = None
    slot: int = -1
    fed: int = 0
    """How many tokens of ``ids + out[:-1]`` are in the KV cache."""
    out: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    pieces: bytearray = field(default_factory=bytearray)
    text: str = ""
    emitted: int = 0
    finish: str = "length"
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.perf_counter)


class EngineLoop:
    """Generation as jobs of one engine loop per model (mixed into ``LlamaCppModel``)."""

    # provided by the model class (LlamaCppModel): its state and its KV-cache / decoding primitives
    _lock: Any
    _cv: Any
    _closed: bool
    _pending: list[Job]
    _active: list[Job]
    _busy: list[bool]
    _shared: Any
    _loop: threading.Thread | None
    model_id: str
    context_window: int
    parallel: int
    n_batch: int
    prompt_ids: Callable[..., list[int]]
    decode: Callable[..., str]
    piece: Callable[..., bytes]
    is_eog: Callable[[int], bool]
    _reuse_prefix: Callable[..., int]
    _decode: Callable[..., Any]

    # -- generation: jobs of the engine loop -----------------------------------------------------------

    def _generate(self, messages: list[Message], params: GenerationParams, *, on_token: Any,
                  logits_processors: list[Any]) -> Generation:
        ids = self.prompt_ids(messages)
        job = self._submit(ids, params, on_token, logits_processors)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return self._result(job)

    def first_token_logprobs(self, prompt: Prompt) -> np.ndarray:
        """Log-probs of the first token for ``prompt``, computed as a one-step generation job: it runs in
        the sequence whose cache shares the longest prefix with the prompt (e.g. the one that just
        answered from the same sources), so only the new tokens are computed."""
        job = self._submit(self.prompt_ids(prompt), GenerationParams(max_tokens=1), None, [], capture=True)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.first_logprobs is not None
        return job.first_logprobs

    def generate_batch(self, prompts: Sequence[Prompt], **kwargs: Any) -> list[Generation]:
        """Several prompts decoded together (one engine step advances every one of them)."""
        from pilotfish.core.models import current_usage

        params = GenerationParams(kwargs.get("max_tokens", 256), float(kwargs.get("temperature", 0.0)),
                                  float(kwargs.get("top_p", 1.0)), list(kwargs.get("stop") or []), kwargs.get("seed"))
        start = time.perf_counter()
        jobs = [self._submit(self.prompt_ids(normalize_prompt(p)), params, None, []) for p in prompts]
        results = []
        for job in jobs:
            job.done.wait()
            if job.error is not None:
                raise job.error
            gen = self._result(job)
            gen.latency_s = time.perf_counter() - start
            if kwargs.get("logprobs", True) is False:
                gen.logprobs = None
            usage = current_usage()
            if usage is not None:
                usage.record(self.model_id, gen.prompt_tokens, gen.completion_tokens, gen.latency_s)
            results.append(gen)
        return results

    def _submit(self, ids: list[int], params: GenerationParams, on_token: Any, processors: list[Any],
                capture: bool = False) -> Job:
        max_new = fit_max_tokens(self.model_id, self.context_window, len(ids), params.max_tokens, stacklevel=4)
        job = Job(ids=ids, max_new=max_new, params=params, on_token=on_token, processors=list(processors),
                   rng=np.random.default_rng(params.seed), holdback=max((len(s) for s in params.stop), default=1) - 1,
                   capture=capture)
        with self._cv:
            if self._closed:
                raise ModelError(f"{self.model_id} is closed")
            self._pending.append(job)
            if self._loop is None or not self._loop.is_alive():
                self._loop = threading.Thread(target=self._run_loop, name=f"pilotfish-llamacpp-{self.model_id}",
                                              daemon=True)
                self._loop.start()
            self._cv.notify()
        return job

    def _result(self, job: Job) -> Generation:
        return Generation(
            text=job.text, model=self.model_id, tokens=[self.decode([t]) for t in job.out], logprobs=job.logprobs,
            prompt_tokens=len(job.ids), completion_tokens=len(job.out), finish_reason=job.finish,
            metadata={"queued_s": 0.0},
        )

    def _admit(self) -> None:
        """Move pending jobs into free sequences, each into the one whose cache shares most of its prompt."""
        while self._pending:
            free = [s for s in range(1, self.parallel) if not self._busy[s]]
            if not free:
                return
            job = self._pending.pop(0)
            ids = job.ids
            job.slot = max(free, key=lambda s: self._shared(s, ids))
            self._busy[job.slot] = True
            self._active.append(job)

    def _run_loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._active:
                    if self._closed:
                        return
                    self._cv.wait(timeout=30)
                    if not self._pending and not self._active:
                        self._loop = None
                        return
                self._admit()
                jobs = list(self._active)
            try:
                self._step(jobs)
            except BaseException as exc:  # a failed decode fails the jobs of this step, not the loop
                for job in jobs:
                    self._finish(job, error=exc)

    def _step(self, jobs: list[Job]) -> None:
        decoding = [j for j in jobs if j.fed >= len(j.ids)]
        budget = self.n_batch - len(decoding)
        if decoding:
            budget = min(budget, 64)  # long prompts in small chunks while others stream
        entries: list[tuple[int, Sequence[int], bool]] = []
        stepping: list[tuple[Job, bool]] = []
        with self._lock:
            for job in jobs:
                if job.fed == 0:
                    job.fed = self._reuse_prefix(job.slot, job.ids)
                if job.fed < len(job.ids):
                    if budget <= 0:
                        continue
                    chunk = job.ids[job.fed: job.fed + budget]
                    budget -= len(chunk)
                    job.fed += len(chunk)
                    entries.append((job.slot, chunk, False))
                    stepping.append((job, job.fed >= len(job.ids)))
                else:
                    entries.append((job.slot, [job.out[-1]], False))
                    stepping.append((job, True))
            rows = self._decode(entries) if entries else []
        for (job, sample), row in zip(stepping, rows, strict=True):
            if sample and row is not None:
                self._advance(job, row[-1])

    def _advance(self, job: Job, scores: np.ndarray) -> None:
        """Pick the job's next token from ``scores``; stream it; finish the job on EOS, stop or length."""
        try:
            if job.processors:
                import torch

                seq = torch.tensor([job.ids + job.out])
                t = torch.from_numpy(scores)[None, :]
                for proc in job.processors:
                    t = proc(seq, t)
                scores = t[0].float().numpy()
            logp = log_softmax(scores.astype(np.float64))
            if job.capture:
                job.first_logprobs = logp
                job.finish = "stop"
                self._finish(job)
                return
            p = job.params
            if p.temperature == 0:
                token = int(np.argmax(scores))
            else:
                token = _sample(scores.astype(np.float64) / p.temperature, p.top_p, job.rng)
            if self.is_eog(token):
                job.finish = "stop"
                self._finish(job)
                return
            job.out.append(token)
            job.logprobs.append(float(logp[token]))
            job.pieces += self.piece(token)
            full = job.pieces.decode("utf-8", errors="replace")
            cut, hit = apply_stop(full, p.stop)
            if hit:
                job.text = cut
                job.finish = "stop"
                self._finish(job)
                return
            job.text = full
            if job.on_token:
                job.emitted = emit_stable(job.on_token, full, job.emitted, job.holdback)
            if len(job.out) >= job.max_new:
                job.finish = "length"
                self._finish(job)
        except BaseException as exc:  # a raising on_token (a client went away) ends this job only
            self._finish(job, error=exc)

    def _finish(self, job: Job, error: BaseException | None = None) -> None:
        if job.done.is_set():
            return
        if error is None and job.on_token and len(job.text) > job.emitted:
            try:
                job.on_token(job.text[job.emitted:])
            except BaseException as exc:
                error = exc
        job.error = error
        with self._cv:
            if job in self._active:
                self._active.remove(job)
            if job.slot >= 0:
                # the sequence keeps its cache (prompt and answer) for the next job with the same prefix
                self._busy[job.slot] = False
        job.done.set()


def _sample(logits: np.ndarray, top_p: float, rng: np.random.Generator) -> int:
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs)
        sorted_probs = probs[order]
        keep = np.cumsum(sorted_probs) - sorted_probs < top_p
        kept = sorted_probs * keep
        return int(order[rng.choice(len(order), p=kept / kept.sum())])
    return int(rng.choice(len(probs), p=probs))
