"""The model layer: what a plugin can ask of a model, and one shared instance per model id.

- :class:`LanguageModel`: text or chat messages in, :class:`~pilotfish.Generation` out.
- :class:`WhiteBoxModel`: also exposes its tokenizer and next-token logits with a KV cache
  (speculative and contrastive decoding, proxy-tuning, perplexity, white-box distillation).
- :class:`Embedder`: texts in, unit-norm vectors out (retrieval, similarity, BERTScore).

Ids: the packaged models (``qwen2.5-1.5b``, ``smollm2-135m``, ``gemma3-270m``, ``minilm``),
``hf:<path, hub id or packaged id>``, ``fake`` (deterministic, for tests), and whatever plugins
register through the ``register_models`` hook. The backends live in :mod:`pilotfish.models`. :func:`get_model` loads each id once per process, under a per-id
lock, and every plugin that names the id gets the same object.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError, ModelError, ModelNotFoundError
from .types import Generation, Message, Usage

Prompt = str | Sequence[Message]

_current_usage: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("pilotfish_usage", default=None)


def current_usage() -> Usage | None:
    return _current_usage.get()


@dataclass
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise InputError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if self.temperature < 0:
            raise InputError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = [s for s in self.stop if s]


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    if cut >= 0:
        return text[:cut], True
    return text, False


def emit_stable(on_token: Any, text: str, emitted: int, holdback: int = 0) -> int:
    """Stream the part of ``text`` past ``emitted`` that can no longer change; return the new mark.

    Held back: the last ``holdback`` characters (a stop sequence may be starting there) and an
    incomplete UTF-8 sequence at the end (decoded as U+FFFD until its next byte arrives).
    """
    safe = len(text) - holdback
    while safe > emitted and text[safe - 1] == "\ufffd":
        safe -= 1
    if safe > emitted:
        on_token(text[emitted:safe])
        return safe
    return emitted


def plain_prompt(messages: list[Message]) -> str:
    """A prompt for a base model without a chat template."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    parts = []
    for m in messages:
        if m["role"] == "system":
            parts.append(m["content"])
        elif m["role"] == "user":
            parts.append(f"Question: {m['content']}")
        else:
            parts.append(f"Answer: {m['content']}")
    parts.append("Answer:")
    return "\n\n".join(parts)


def normalize_prompt(prompt: Prompt) -> list[Message]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise InputError("the prompt is empty")
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    if not messages:
        raise InputError("no messages given")
    return messages


class LanguageModel:
    """Text or chat in, :class:`Generation` out.

    Subclasses implement :meth:`_generate`; :meth:`generate` validates parameters and
    accounts tokens, calls and latency to the current run's usage.
    """

    model_id: str = "model"
    white_box: bool = False
    context_window: int | None = None

    def generate(
        self,
        prompt: Prompt,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: Sequence[str] | str | None = None,
        seed: int | None = None,
        on_token: Callable[[str], None] | None = None,
        logits_processors: Sequence[Any] | None = None,
        logprobs: bool = True,
    ) -> Generation:
        """Generate one answer. ``logprobs=False`` leaves :attr:`Generation.logprobs` ``None`` (the
        backends compute them anyway; a caller that does not want them gets none)."""
        params = GenerationParams(max_tokens, float(temperature), float(top_p), list(stop or []) if not isinstance(stop, str) else [stop], seed)
        messages = normalize_prompt(prompt)
        start = time.perf_counter()
        gen = self._generate(messages, params, on_token=on_token, logits_processors=list(logits_processors or []))
        gen.latency_s = time.perf_counter() - start
        gen.model = gen.model or self.model_id
        if not logprobs:
            gen.logprobs = None
        usage = _current_usage.get()
        if usage is not None:
            usage.record(self.model_id, gen.prompt_tokens, gen.completion_tokens, gen.latency_s)
        return gen

    def _generate(
        self,
        messages: list[Message],
        params: GenerationParams,
        *,
        on_token: Callable[[str], None] | None,
        logits_processors: list[Any],
    ) -> Generation:
        raise NotImplementedError

    def stream(self, prompt: Prompt, **kwargs: Any) -> Iterator[str]:
        """Yield text chunks as the model produces them."""
        q: queue.Queue[Any] = queue.Queue()
        done = object()
        ctx = contextvars.copy_context()

        def work() -> None:
            try:
                self.generate(prompt, on_token=q.put, **kwargs)
            except BaseException as exc:  # re-raised in the consumer
                q.put(_Raise(exc))
            finally:
                q.put(done)

        threading.Thread(target=ctx.run, args=(work,), daemon=True).start()
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, _Raise):
                raise item.exc
            yield item

    def generate_batch(self, prompts: Sequence[Prompt], **kwargs: Any) -> list[Generation]:
        """Generate for several prompts; local models override this to batch on the device."""
        return [self.generate(p, **kwargs) for p in prompts]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_id!r}>"


class _Raise:
    def __init__(self, exc: BaseException):
        self.exc = exc


class WhiteBoxModel(LanguageModel):
    """A language model with a tokenizer and next-token logits (KV cache reused across calls)."""

    white_box = True
    tokenizer: Any = None
    vocab_size: int = 0
    eos_token_ids: tuple[int, ...] = ()

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt as the model sees it (chat template applied where there is one)."""
        raise NotImplementedError

    def next_token_logits(self, input_ids: Sequence[int], past: Any = None) -> tuple[Any, Any]:
        """Logits for the token after ``input_ids`` and the updated KV cache.

        With ``past`` (the cache returned by a previous call), only the ids not yet in the
        cache are run through the model. Returns ``(logits: FloatTensor[vocab], past)``.
        """
        raise NotImplementedError

    def token_logprobs(self, text: str, prefix: str = "") -> list[float]:
        """Log-probability of each token of ``text`` given ``prefix`` (perplexity scoring)."""
        raise NotImplementedError

    def first_token_logprobs(self, prompt: Prompt) -> Any:
        """Log-probabilities over the vocabulary of the first token the model would write for ``prompt``
        (a numpy array): yes/no judges, label scoring. Backends with a shared prefix cache override it."""
        import numpy as np

        logits, _ = self.next_token_logits(self.prompt_ids(prompt))
        row = np.asarray(logits.float().numpy() if hasattr(logits, "numpy") else logits, dtype=np.float64)
        m = row.max()
        return row - m - np.log(np.exp(row - m).sum())


class Embedder:
    """Texts in, L2-normalised vectors out."""

    model_id: str = "embedder"
    dimension: int = 0

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        raise NotImplementedError


# --- registry ---------------------------------------------------------------------------------


@dataclass
class ModelSpec:
    id: str
    factory: Callable[[], Any]
    description: str = ""
    kind: str = "causal-lm"
    available: Callable[[], bool] | None = None
    aliases: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    """What ``pilotfish models`` shows beside the id: size, quantization, context window, license..."""

    def is_available(self) -> bool:
        """Whether the model can be loaded offline. A missing package (``ImportError``) or file
        (``OSError``) means "not installed"; any other error is a bug in the check and is raised as a
        :class:`ModelError` naming the model, instead of being reported as "not installed"."""
        if self.available is None:
            return True
        try:
            return bool(self.available())
        except (ImportError, OSError):
            return False
        except Exception as exc:
            raise ModelError(f"model {self.id!r}: its availability check failed: {type(exc).__name__}: {exc}") from exc


@dataclass
class SchemeSpec:
    prefix: str
    factory: Callable[[str], Any]
    description: str = ""


class ModelRegistry:
    """What ``register_models`` implementations receive.

    ``register("my-model", factory, description="...")`` adds a named model;
    ``register.scheme("openai", factory)`` handles every id of the form ``openai:<name>``.
    """

    def __init__(self) -> None:
        self.models: dict[str, ModelSpec] = {}
        self.schemes: dict[str, SchemeSpec] = {}

    def __call__(
        self,
        model_id: str,
        factory: Callable[[], Any],
        *,
        description: str = "",
        kind: str = "causal-lm",
        available: Callable[[], bool] | None = None,
        aliases: Sequence[str] = (),
        details: dict[str, Any] | None = None,
    ) -> None:
        spec = ModelSpec(model_id, factory, description, kind, available, tuple(aliases), dict(details or {}))
        for name in (model_id, *aliases):
            self.models[name] = spec

    def scheme(self, prefix: str, factory: Callable[[str], Any], description: str = "") -> None:
        self.schemes[prefix] = SchemeSpec(prefix, factory, description)

    def resolve(self, model_id: str) -> tuple[str, Callable[[], Any]]:
        """(canonical id, factory) for an id, or a clear error listing what is known."""
        if model_id in self.models:
            spec = self.models[model_id]
            return spec.id, spec.factory
        prefix, sep, rest = model_id.partition(":")
        if sep and prefix in self.schemes:
            if not rest:
                raise ModelNotFoundError(f"model id {model_id!r} has nothing after '{prefix}:'")
            factory = self.schemes[prefix].factory
            return model_id, lambda: factory(rest)
        known = sorted({s.id for s in self.models.values()})
        schemes = sorted(f"{p}:<...>" for p in self.schemes)
        raise ModelNotFoundError(
            f"unknown model {model_id!r}; known models: {', '.join(known)}; id forms: {', '.join(schemes)}"
        )


_registry: ModelRegistry | None = None
_registry_lock = threading.Lock()
_instances: dict[str, Any] = {}
_instance_locks: dict[str, threading.Lock] = {}


def registry(refresh: bool = False) -> ModelRegistry:
    """The process-wide registry, filled once by every installed plugin's ``register_models``."""
    global _registry
    with _registry_lock:
        if _registry is None or refresh:
            from .manager import discovery_manager
            from .tracing import current_trace

            reg = ModelRegistry()
            token = current_trace.set(None)  # process-wide set-up, not part of any run's trace
            try:
                discovery_manager().hook.register_models(register=reg)
            finally:
                current_trace.reset(token)
            _registry = reg
        return _registry


def get_model(model: str | Any) -> Any:
    """The shared instance for a model id (loaded on first use), or ``model`` itself if it is one."""
    if not isinstance(model, str):
        return model
    if not model.strip():
        raise ModelNotFoundError("empty model id")
    canonical, factory = registry().resolve(model)
    if canonical in _instances:
        return _instances[canonical]
    with _registry_lock:
        lock = _instance_locks.setdefault(canonical, threading.Lock())
    with lock:
        if canonical not in _instances:
            try:
                instance = factory()
            except ModelError:
                raise
            except ImportError as exc:
                from .errors import MissingDependencyError

                raise MissingDependencyError(exc.name or str(exc), "models", f"model {model!r}") from exc
            _instances[canonical] = instance
        return _instances[canonical]


def loaded_models() -> dict[str, Any]:
    return dict(_instances)


def clear_models() -> None:
    """Forget every loaded model (tests)."""
    _instances.clear()
