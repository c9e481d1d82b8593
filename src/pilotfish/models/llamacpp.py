"""Local GGUF models on llama.cpp (through ``llama-cpp-python``): the default backend for local LMs.

:class:`LlamaCppModel` is a :class:`~pilotfish.core.models.WhiteBoxModel`:

- the GGUF is memory-mapped as it is (no fp32 conversion); its own chat template (GGUF metadata,
  rendered with jinja2 as llama-cpp-python's ``Jinja2ChatFormatter`` does) formats chat prompts;
- next-token logits and prompt-token log-probs, logits for several positions in one pass
  (:meth:`LlamaCppModel.position_logits`, what speculative decoding verifies with);
- the KV cache is reused by prefix: every call finds the longest prefix its sequence already holds and
  removes the rest (``llama_memory_seq_rm``), so a repeated prompt prefix is never computed twice and a
  rejected draft is rolled back by position;
- greedy and seeded sampling, top-p, stop sequences, streaming, logits processors;
- generation is continuous batching: every :meth:`generate` call (from any thread) becomes a job of one
  engine loop per model, and the loop decodes one token of every running job in a single
  ``llama_decode`` call (llama.cpp sequences), admitting new jobs between steps and feeding long
  prompts in chunks so running jobs keep streaming.

Sequences 1.. run generation jobs, each with ``context_window`` cells of KV cache; a job waits for a free
one. Direct white-box calls (logits, log-probs, speculative verification) use sequence 0 or whichever idle
sequence already holds most of their prompt.

The generation engine loop lives in :mod:`pilotfish.models.llamacpp_engine` (a mixin).

Threads follow :func:`pilotfish.core.threads.threads_now`, checked before every decode step.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import (
    ContextLengthError,
    InputError,
    MissingDependencyError,
    ModelError,
)
from pilotfish.core.models import (
    Prompt,
    WhiteBoxModel,
    normalize_prompt,
    plain_prompt,
)
from pilotfish.core.prompts import merge_consecutive
from pilotfish.core.threads import threads_now

from .llamacpp_engine import EngineLoop, Job, log_softmax

__all__ = ["LlamaCppModel", "log_softmax", "require_llama_cpp"]


def require_llama_cpp() -> Any:
    try:
        import llama_cpp
        from llama_cpp import _logger
    except ImportError as exc:
        raise MissingDependencyError("llama-cpp-python", "models", "local GGUF models") from exc
    _logger.set_verbose(False)
    return llama_cpp


class LlamaCppModel(EngineLoop, WhiteBoxModel):
    """A GGUF model on llama.cpp (see the module doc).

    Args:
        path: the ``.gguf`` file.
        model_id: the id this model is known by.
        context_window: KV cells per sequence (the longest prompt + answer).
        parallel: sequences in the context (one for white-box calls, the rest for generation jobs).
        n_batch: the most tokens one ``llama_decode`` call takes.
    """

    def __init__(self, path: str | Path, model_id: str | None = None, *, context_window: int = 4096,
                 parallel: int = 4, n_batch: int = 512):
        llama_cpp = require_llama_cpp()
        from llama_cpp import _internals

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"no GGUF file at {str(path)!r}")
        if parallel < 2:
            raise InputError("parallel must be at least 2 (one sequence for white-box calls, one for generation)")
        self._llama = llama_cpp
        self.path = path
        self.model_id = model_id or f"gguf:{path}"
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 0
        # no CPU "repack" of the weights into llama.cpp's extra buffer types: measured on Qwen here (one
        # thread), repacking took the load from 0.6 s to 4.1 s and the resident size from 1.25 to 3.05 GB,
        # and made prefill slower (104 -> 61 tokens/s) and generation slower (19.0 -> 15.6 tokens/s)
        mparams.use_extra_bufts = False
        try:
            self._model = _internals.LlamaModel(path_model=str(path), params=mparams, verbose=False)
        except ValueError as exc:
            raise ModelError(f"llama.cpp could not load {str(path)!r}: {exc} (is it a complete GGUF file?)") from None
        train_ctx = self._model.n_ctx_train()
        self.context_window: int = int(min(context_window, train_ctx) if train_ctx > 0 else context_window)
        self.parallel = parallel
        self.n_batch = n_batch
        self._threads = threads_now()
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = self.context_window * parallel
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = parallel
        cparams.kv_unified = False
        cparams.n_threads = self._threads
        cparams.n_threads_batch = self._threads
        cparams.no_perf = True
        try:
            self._ctx = _internals.LlamaContext(model=self._model, params=cparams, verbose=False)
        except ValueError as exc:
            raise ModelError(f"llama.cpp could not create a context for {self.model_id}: {exc}") from None
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, parallel)
        self._mem = llama_cpp.llama_get_memory(self._ctx.ctx)
        self._vocab = self._model.vocab
        self.vocab_size = int(self._model.n_vocab())
        self.metadata = self._model.metadata()
        self.chat_template: str | None = self.metadata.get("tokenizer.chat_template") or None
        self.has_chat_template = self.chat_template is not None
        self._bos = self._model.token_bos()
        self._eos = self._model.token_eos()
        self._add_bos = bool(self._model.add_bos_token())
        self.eos_token_ids = tuple(t for t in {self._eos, self._model.token_eot()} if t >= 0)
        self.tokenizer = self  # encode / decode / get_vocab live here
        self._formatter: Any = None
        self._lock = threading.RLock()
        """Held for every use of the context (decode, cache edits)."""
        self._slots: list[list[int]] = [[] for _ in range(parallel)]
        """The tokens each sequence holds in the KV cache, in order."""
        self._busy = [False] * parallel
        self._busy[0] = True  # sequence 0: direct white-box calls
        self._cv = threading.Condition()
        self._pending: list[Job] = []
        self._active: list[Job] = []
        self._loop: threading.Thread | None = None
        self._closed = False
        self.stats = {"steps": 0, "batched_tokens": 0, "max_batch": 0}

    # -- tokens -----------------------------------------------------------------------------------

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        if not text:
            return [self._bos] if add_special_tokens and self._add_bos else []
        return list(self._model.tokenize(text.encode("utf-8"), add_special_tokens and self._add_bos, True))

    def piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = self._llama.llama_token_to_piece(self._vocab, int(token), buf, 256, 0, special)
        return buf.raw[: max(n, 0)]

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(b"".join([self.piece(t) for t in ids])).decode("utf-8", errors="replace")

    def get_vocab(self) -> dict[str, int]:
        """Token text -> id (what ``same_vocabulary`` checks compare)."""
        return {self._model.token_get_text(i): i for i in range(self.vocab_size)}

    def vocab_signature(self) -> tuple[int, str]:
        """A cheap identity of the vocabulary: size and the texts of a spread of tokens."""
        picks = range(0, self.vocab_size, max(1, self.vocab_size // 64))
        return self.vocab_size, "\x00".join(self._model.token_get_text(i) for i in picks)

    def is_eog(self, token: int) -> bool:
        return bool(self._llama.llama_vocab_is_eog(self._vocab, int(token)))

    def format_prompt(self, prompt: Prompt) -> str:
        messages = normalize_prompt(prompt)
        if not self.has_chat_template:
            return plain_prompt(messages)
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                self.chat_template or "", eos_token=self.decode_special(self._eos), bos_token=self.decode_special(self._bos),
                add_generation_prompt=True,
            )
        try:
            return str(self._formatter(messages=messages).prompt)
        except Exception:  # a template that insists on alternating roles: join same-role turns, try again
            try:
                return str(self._formatter(messages=merge_consecutive(messages)).prompt)
            except Exception as exc:
                raise InputError(f"{self.model_id}'s chat template refused these messages: {exc}") from None

    def decode_special(self, token: int) -> str:
        return self.piece(token, special=True).decode("utf-8", errors="replace") if token >= 0 else ""

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        text = self.format_prompt(prompt)
        # a chat template writes its own special tokens; a base model gets the tokenizer's BOS
        return self.encode(text, add_special_tokens=not self.has_chat_template)

    # -- the KV cache and decoding (callers hold self._lock) ---------------------------------------

    def _set_threads(self) -> None:
        n = threads_now()
        if n != self._threads:
            self._llama.llama_set_n_threads(self._ctx.ctx, n, n)
            self._threads = n

    def _shared(self, slot: int, ids: Sequence[int]) -> int:
        held, n = self._slots[slot], 0
        limit = min(len(held), len(ids))
        while n < limit and held[n] == ids[n]:
            n += 1
        return n

    def _direct_slot(self, ids: Sequence[int]) -> int:
        """The sequence a white-box call uses: 0, or an idle generation sequence whose cache shares more
        of ``ids`` (the prompt a job just answered, so a judge or a verifier does not compute it again).
        Safe under ``self._lock``: a job reads its sequence's cache only when it steps, under the lock."""
        idle = [0] + [s for s in range(1, self.parallel) if not self._busy[s]]
        return max(idle, key=lambda s: self._shared(s, ids))

    def _reuse_prefix(self, slot: int, ids: Sequence[int]) -> int:
        """Keep the longest prefix of ``ids`` that ``slot`` holds (at most all but the last id, so there
        is something to decode); drop the rest of its cache. Returns how many ids are kept."""
        held = self._slots[slot]
        n = 0
        limit = min(len(held), len(ids) - 1)
        while n < limit and held[n] == ids[n]:
            n += 1
        if n < len(held):
            self._llama.llama_memory_seq_rm(self._mem, slot, n, -1)
            del held[n:]
        return n

    def _decode(self, entries: list[tuple[int, Sequence[int], bool]]) -> list[np.ndarray | None]:
        """One ``llama_decode`` of several sequences' next tokens: ``(slot, tokens, all_logits)`` each,
        appended after what the slot holds. Returns per entry the logits rows (all tokens', or the last
        token's as one row)."""
        b = self._batch
        j = 0
        marks: list[tuple[int, int, bool]] = []
        for slot, tokens, all_logits in entries:
            start = len(self._slots[slot])
            marks.append((j, len(tokens), all_logits))
            for i, t in enumerate(tokens):
                b.token[j] = int(t)
                b.pos[j] = start + i
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = slot
                b.logits[j] = all_logits or i == len(tokens) - 1
                j += 1
        b.n_tokens = j
        self._set_threads()
        ret = self._llama.llama_decode(self._ctx.ctx, b)
        if ret != 0:
            raise ModelError(f"llama_decode failed for {self.model_id} (code {ret}: "
                             f"{'no room in the KV cache' if ret == 1 else 'internal error'})")
        self.stats["steps"] += 1
        self.stats["batched_tokens"] += j
        self.stats["max_batch"] = max(self.stats["max_batch"], len(entries))
        out: list[np.ndarray | None] = []
        for (first, n, all_logits), (slot, tokens, _) in zip(marks, entries, strict=True):
            rows = range(first, first + n) if all_logits else [first + n - 1]
            out.append(np.stack([self._row(r) for r in rows]))
            self._slots[slot].extend(int(t) for t in tokens)
        return out

    def _row(self, i: int) -> np.ndarray:
        ptr = self._llama.llama_get_logits_ith(self._ctx.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.vocab_size,)).copy()

    def _feed(self, slot: int, ids: Sequence[int], all_logits: bool) -> np.ndarray:
        """Bring ``slot`` to hold exactly ``ids``; the logits of the ids that had to be computed (all of
        them, or the last one's row)."""
        if len(ids) > self.context_window:
            raise ContextLengthError(f"{len(ids)} tokens do not fit {self.model_id}'s context of {self.context_window}")
        start = self._reuse_prefix(slot, ids)
        return self._append(slot, ids[start:], all_logits)

    def _append(self, slot: int, tokens: Sequence[int], all_logits: bool) -> np.ndarray:
        """Decode ``tokens`` after what ``slot`` holds, in chunks of ``n_batch``."""
        rows = []
        for i in range(0, len(tokens), self.n_batch):
            got = self._decode([(slot, tokens[i: i + self.n_batch], all_logits)])[0]
            assert got is not None
            rows.append(got)
        return np.concatenate(rows) if all_logits else rows[-1]

    # -- white-box calls (sequence 0) -----------------------------------------------------------------

    def next_token_logits(self, input_ids: Sequence[int], past: Any = None) -> tuple[Any, Any]:
        """Logits for the token after ``input_ids`` (a torch tensor) and an opaque ``past``.

        The cache is matched by prefix, so ``past`` is only a hint: passing the previous call's ids plus
        new ones computes just the new ones; any other ids roll the cache back to the common prefix.
        """
        import torch

        ids = list(input_ids)
        if not ids:
            raise InputError("next_token_logits needs at least one id")
        with self._lock:
            row = self._feed(self._direct_slot(ids), ids, all_logits=False)[-1]
        return torch.from_numpy(row), len(ids)

    def position_logits(self, input_ids: Sequence[int], n: int) -> np.ndarray:
        """Logits after each of the last ``n`` positions of ``input_ids`` (``[n, vocab]``), in one pass
        where the cache already holds the rest: what a speculative verifier needs."""
        ids = list(input_ids)
        if not 1 <= n <= len(ids):
            raise InputError(f"n must be in 1..{len(ids)}, got {n}")
        cut = len(ids) - n
        with self._lock:
            if len(ids) > self.context_window:
                raise ContextLengthError(f"{len(ids)} tokens do not fit {self.model_id}'s context of {self.context_window}")
            slot = self._direct_slot(ids[:cut])
            held = self._slots[slot]
            if cut > 0 and held[:cut] != ids[:cut]:  # the prefix, logits of its last token only
                self._feed(slot, ids[:cut], all_logits=False)
            if len(held) > cut:
                self._llama.llama_memory_seq_rm(self._mem, slot, cut, -1)
                del held[cut:]
            return self._append(slot, ids[cut:], all_logits=True)

    def token_logprobs(self, text: str, prefix: str = "") -> list[float]:
        prefix_ids = ([self._bos] if self._bos >= 0 else []) + (self.encode(prefix) if prefix else [])
        text_ids = self.encode(text)
        if not text_ids:
            return []
        ids = (prefix_ids + text_ids)[-self.context_window:]
        n_text = min(len(text_ids), len(ids) - 1)
        logits = self.position_logits(ids, n_text + 1)[:-1]
        return [float(log_softmax(row)[t]) for row, t in zip(logits, ids[-n_text:], strict=True)]

    def clear_cache(self) -> int:
        """Forget the cached prompts of every idle sequence (the next prompt is computed from its first
        token, as on a fresh load); returns how many cached tokens were dropped. Benchmarks call it so
        that one prompt does not reuse another's passages."""
        dropped = 0
        with self._lock:
            with self._cv:
                idle = [0] + [s for s in range(1, self.parallel) if not self._busy[s]]
            for slot in idle:
                if self._slots[slot]:
                    self._llama.llama_memory_seq_rm(self._mem, slot, 0, -1)
                    dropped += len(self._slots[slot])
                    self._slots[slot].clear()
        return dropped

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown
        try:
            if getattr(self, "_batch", None) is not None:
                self._llama.llama_batch_free(self._batch)
                self._batch = None
        except Exception:
            pass
