"""Hugging Face models through transformers: a white-box causal LM and a sentence embedder.

Local GGUF models run on llama.cpp by default (:mod:`pilotfish.models.llamacpp`); this backend is
for training (distillation, truncated drafts) and for ``hf:`` ids. A packaged GGUF model asked for
here (``hf-smollm2-135m`` and the like) is dequantized once into a safetensors copy under
``$PILOTFISH_CACHE/models/<name>-hf`` and every later load reads that copy (well under a second).
The conversion takes a file lock, is written to a temporary folder renamed into place, and records
each file's size: a copy whose files no longer match is converted again, never loaded.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError, ModelError
from pilotfish.core.models import (
    Embedder,
    GenerationParams,
    Prompt,
    WhiteBoxModel,
    apply_stop,
    emit_stable,
    normalize_prompt,
    plain_prompt,
)
from pilotfish.core.threads import torch_threads
from pilotfish.core.types import Generation, Message

from .cache import build_folder, cache_dir, file_sizes, sizes_match
from .context import fit_max_tokens
from .packaged import PACKAGED, packaged_gguf


def require_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("torch", "models", "local Hugging Face models") from exc
    torch_threads()
    return torch


def require_transformers() -> Any:
    """transformers, quiet unless ``PILOTFISH_VERBOSE`` (``pilotfish -v``): no weight-loading bars or
    library warnings on a normal run; hub look-ups fail fast when the hub cannot be reached."""
    require_torch()
    offline_unless_reachable()
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("transformers", "models", "local Hugging Face models") from exc
    if not os.environ.get("PILOTFISH_VERBOSE"):
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    return transformers


_hub_checked = False


def offline_unless_reachable(host: str = "huggingface.co", timeout: float = 1.5) -> None:
    """Where ``HF_HUB_OFFLINE`` is unset and the hub does not answer within ``timeout``, switch the hub
    client to offline mode, so a hub id fails at once instead of after a minute of retries (a bad ``hf:`` id
    took 63 s here) and local paths and packaged models load as usual."""
    global _hub_checked
    if _hub_checked or "HF_HUB_OFFLINE" in os.environ:
        return
    _hub_checked = True
    import socket

    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return
    except OSError:
        pass
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover
        pass


def converted_path(name: str) -> Path:
    return cache_dir() / "models" / f"{name}-hf"


def _conversion_intact(out: Path) -> bool:
    """The copy's stamp exists and every file it lists still has its recorded size."""
    try:
        stamp = json.loads((out / "pilotfish.json").read_text())
    except (OSError, ValueError):
        return False
    return sizes_match(out, stamp.get("sizes"))


def ensure_converted(name: str) -> Path:
    """The safetensors copy of a packaged GGUF model, converting it on first use (and again when
    the copy is damaged)."""

    def convert(tmp: Path) -> None:
        transformers = require_transformers()
        torch = require_torch()
        gguf = packaged_gguf(name)
        folder, file = str(gguf.parent), gguf.name
        try:
            tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=file)
            model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
        except ImportError as exc:
            raise MissingDependencyError(exc.name or "gguf", "models", "reading GGUF weights") from exc
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        sizes = file_sizes(tmp)
        (tmp / "pilotfish.json").write_text(
            json.dumps({"source": PACKAGED[name].dist, "file": PACKAGED[name].file, "sizes": sizes})
        )

    out = converted_path(name)
    return build_folder(out, _conversion_intact, convert, stacklevel=2,
                        damaged_warning=f"the converted copy {out} is damaged or incomplete; converting {name} again")


def load_packaged(name: str) -> HFCausalLM:
    path = ensure_converted(name)
    return HFCausalLM.from_pretrained(str(path), model_id=f"hf:{name}")


# --- causal LM ---------------------------------------------------------------------------------


class HFCausalLM(WhiteBoxModel):
    """A local Hugging Face causal LM with its own decoding loop.

    Greedy (``temperature=0``) or sampling (temperature, top-p, seed), stop sequences, max
    tokens, streaming through ``on_token``, per-token log-probs, logits processors, and a KV
    cache reused step to step. Calls are serialised per model (one lock), so a model shared by
    threads is safe.
    """

    def __init__(self, model: Any, tokenizer: Any, model_id: str, context_window: int | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        cfg = model.config
        text_cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        self.context_window: int = int(context_window or getattr(text_cfg, "max_position_embeddings", None) or 2048)
        self.vocab_size = int(getattr(text_cfg, "vocab_size", len(tokenizer)))
        eos = getattr(model.generation_config, "eos_token_id", None) or tokenizer.eos_token_id
        eos_list = eos if isinstance(eos, list) else [eos]
        self.eos_token_ids = tuple(int(e) for e in eos_list if e is not None)
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self._lock = threading.RLock()
        import inspect

        # transformers >= 5.2x renamed past_key_values to cache (the old name warns)
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def forward(self, input_ids: Any, past: Any = None) -> tuple[Any, Any]:
        """One forward pass with a KV cache: (logits[batch, seq, vocab], new cache)."""
        out = self.model(input_ids=input_ids, use_cache=True, **{self._cache_kw: past})
        cache = out.get("cache") if "cache" in out else out.get("past_key_values")
        return out.logits, cache

    @classmethod
    def from_pretrained(cls, path: str, model_id: str | None = None, **kwargs: Any) -> HFCausalLM:
        transformers = require_transformers()
        torch = require_torch()
        try:
            tok = transformers.AutoTokenizer.from_pretrained(path)
            model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=kwargs.pop("dtype", torch.float32), **kwargs)
        except OSError as exc:
            raise ModelError(
                f"could not load causal LM {path!r}: {exc.__class__.__name__}: {str(exc).splitlines()[0]} "
                "(a hub id needs network access; a local path needs config.json and weights)"
            ) from None
        return cls(model, tok, model_id or f"hf:{path}")

    def truncated(self, num_layers: int, model_id: str | None = None) -> HFCausalLM:
        """A copy keeping only the first ``num_layers`` decoder layers (same tokenizer and head).

        A cheap same-tokenizer draft for speculative decoding, an "amateur" for contrastive
        decoding, or the starting point of a distilled student.
        """
        import copy

        layers = _decoder_layers(self.model)
        if not 1 <= num_layers <= len(layers):
            raise ModelError(f"{self.model_id} has {len(layers)} layers; cannot keep {num_layers}")
        clone = copy.deepcopy(self.model)
        kept = _decoder_layers(clone)[:num_layers]
        _set_decoder_layers(clone, kept)
        text_cfg = clone.config.get_text_config() if hasattr(clone.config, "get_text_config") else clone.config
        text_cfg.num_hidden_layers = num_layers
        if getattr(text_cfg, "layer_types", None):
            text_cfg.layer_types = text_cfg.layer_types[:num_layers]
        return HFCausalLM(clone, self.tokenizer, model_id or f"truncate:{num_layers}:{self.model_id}",
                          context_window=self.context_window)

    # -- tokens -------------------------------------------------------------------------------

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=add_special_tokens))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def format_prompt(self, prompt: Prompt) -> str:
        messages = normalize_prompt(prompt)
        if self.has_chat_template:
            return str(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        return plain_prompt(messages)

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        text = self.format_prompt(prompt)
        # a chat template writes its own special tokens; a base model gets the tokenizer's BOS
        return self.encode(text, add_special_tokens=not self.has_chat_template)

    # -- logits -------------------------------------------------------------------------------

    def next_token_logits(self, input_ids: Sequence[int], past: Any = None) -> tuple[Any, Any]:
        torch = require_torch()
        done = past.get_seq_length() if past is not None else 0
        new = list(input_ids)[done:]
        if not new:
            raise ValueError("next_token_logits needs at least one id beyond the cache")
        with self._lock, torch.inference_mode():
            logits, past = self.forward(torch.tensor([new]), past)
        return logits[0, -1].float(), past

    def token_logprobs(self, text: str, prefix: str = "") -> list[float]:
        torch = require_torch()
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        prefix_ids = bos + (self.encode(prefix) if prefix else [])
        text_ids = self.encode(text)
        if not text_ids:
            return []
        ids = (prefix_ids + text_ids)[-self.context_window:]
        n_text = min(len(text_ids), len(ids) - 1)
        with self._lock, torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
        logp = torch.log_softmax(logits[:-1], dim=-1)
        targets = torch.tensor(ids[1:])
        picked = logp.gather(1, targets[:, None])[:, 0]
        return [float(x) for x in picked[-n_text:]]

    # -- generation -----------------------------------------------------------------------------

    def _generate(self, messages: list[Message], params: GenerationParams, *, on_token: Any, logits_processors: list[Any]) -> Generation:
        torch = require_torch()
        ids = self.prompt_ids(messages)
        max_new = fit_max_tokens(self.model_id, self.context_window, len(ids), params.max_tokens, stacklevel=3)
        generator = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
        holdback = max((len(s) for s in params.stop), default=1) - 1
        out_ids: list[int] = []
        logprobs: list[float] = []
        emitted = 0
        text = ""
        finish = "length"
        with self._lock, torch.inference_mode():
            past = None
            step_input = torch.tensor([ids])
            for _ in range(max_new):
                logits, past = self.forward(step_input, past)
                scores = logits[:, -1, :].float()
                if logits_processors:
                    seq = torch.tensor([ids + out_ids])
                    for proc in logits_processors:
                        scores = proc(seq, scores)
                logp = torch.log_softmax(scores, dim=-1)
                if params.temperature == 0:
                    token = int(torch.argmax(scores, dim=-1))
                else:
                    token = _sample(torch, scores[0] / params.temperature, params.top_p, generator)
                if token in self.eos_token_ids:
                    finish = "stop"
                    break
                out_ids.append(token)
                logprobs.append(float(logp[0, token]))
                full = self.decode(out_ids)
                cut, hit = apply_stop(full, params.stop)
                if hit:
                    text = cut
                    finish = "stop"
                    break
                text = full
                if on_token:
                    emitted = emit_stable(on_token, full, emitted, holdback)
                step_input = torch.tensor([[token]])
        if on_token and len(text) > emitted:
            on_token(text[emitted:])
        return Generation(
            text=text,
            model=self.model_id,
            tokens=[self.tokenizer.decode([t]) for t in out_ids],
            logprobs=logprobs,
            prompt_tokens=len(ids),
            completion_tokens=len(out_ids),
            finish_reason=finish,
        )



def _decoder_layers(model: Any) -> Any:
    base = getattr(model, "model", None)
    layers = getattr(base, "layers", None) if base is not None else None
    if layers is None:
        raise ModelError(f"cannot find the decoder layers of {type(model).__name__}")
    return layers


def _set_decoder_layers(model: Any, layers: Any) -> None:
    import torch

    model.model.layers = torch.nn.ModuleList(list(layers))


def _sample(torch: Any, logits: Any, top_p: float, generator: Any) -> int:
    probs = torch.softmax(logits, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
        sorted_probs = sorted_probs * keep
        choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
        return int(order[choice])
    return int(torch.multinomial(probs, 1, generator=generator))


# --- embedder ------------------------------------------------------------------------------------


class SentenceEmbedder(Embedder):
    """A sentence-transformers model: unit-norm sentence vectors; the ST object is ``.model``."""

    def __init__(self, path: str, model_id: str | None = None, device: str = "cpu"):
        require_transformers()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "models", "embedders") from exc
        try:
            self.model = SentenceTransformer(path, device=device)
        except OSError as exc:
            raise ModelError(f"could not load embedder {path!r}: {str(exc).splitlines()[0]}") from None
        self.model_id = model_id or f"st:{path}"
        self.path = path
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(get_dim() or 0)
        self.tokenizer = self.model.tokenizer
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        with self._lock:
            return self.model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
