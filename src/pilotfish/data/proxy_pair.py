"""Training the same-tokenizer small pair for proxy-tuning (``pilotfish train proxy-pair``).

Both small models start from the first ``K`` layers of the large model itself
(:mod:`pilotfish.models.qwen_small`), train the same tensors (the last ``train_layers`` layers and the
final norm; the embeddings, the tied head and the lower layers stay frozen and shared) on the same
BBC windows for the same number of steps, and differ only in what they learn at the end:

- the **base** learns the large model's next-token distributions all along (white-box distillation:
  cross-entropy to the large model's top-``k`` probabilities, renormalised), so it is a small copy of
  what the large model already believes about this text;
- the **tuned** model learns the same for the first ``distill_steps`` steps, then for the remaining
  ``tune_steps`` the same distributions *plus* ``gold_weight`` times the cross-entropy on the text's own
  next tokens.

``tuned - base`` is then what the domain's own tokens change relative to the large model's beliefs,
which is the offset proxy-tuning adds to the large model. (A first run with gold tokens alone for the
tuned model made it worse on held-out text than the base, perplexity 364 vs 336: 21,760 training
tokens of hard labels teach less than the large model's distributions over the same tokens, so the
offset pointed the wrong way.) (A first-K-layers copy that is not trained
at all is no language model: K=4 gave a perplexity of 420,000 on BBC text, and its logits would only
add noise.) The large model's top-``k`` log-probs are computed once per window on llama.cpp and kept in
``<out>/teacher/`` so a re-run reuses them.

The split is by article, after merging the corpus's copies (:func:`~pilotfish.data.corpora.copy_groups`):
the excluded articles (the dev sets') and their copies are dropped, ``heldout`` articles are kept out
of training for evaluation (their ids are recorded), and training windows come from the rest.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, WhiteBoxRequiredError
from pilotfish.core.models import get_model

from .corpora import bbc_records, copy_groups

PAIR_META = "pilotfish_proxy_pair.json"
SCORE_KEY = "heldout_ppl_tuned"


def proxy_split(exclude_docs: Iterable[str] = (), *, heldout: int = 100, seed: int = 0,
                records: Sequence[dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """``train`` and ``heldout`` BBC articles: one per copy group, excluded groups dropped, shuffled."""
    excluded = set(exclude_docs)
    groups = [g for g in copy_groups(list(records) if records is not None else bbc_records())
              if not any(r["id"] in excluded for r in g)]
    random.Random(seed).shuffle(groups)
    if not 0 <= heldout < len(groups):
        raise InputError(f"heldout must be in 0..{len(groups) - 1} articles, got {heldout}")
    firsts = [g[0] for g in groups]
    return {"heldout": firsts[:heldout], "train": firsts[heldout:]}


def windows(lm: Any, texts: Iterable[str], seq_len: int) -> list[list[int]]:
    """The first ``seq_len`` tokens of each text, after a document-start token (``<|endoftext|>`` for Qwen);
    ``lm`` is a transformers model (the large model on llama.cpp tokenizes the same, checked)."""
    if seq_len < 8:
        raise InputError(f"seq_len must be at least 8 tokens, got {seq_len}")
    start = doc_start(lm)
    out = []
    for t in texts:
        ids = start + lm.encode(t)[: seq_len - len(start)]
        if len(ids) >= 8:
            out.append(ids)
    return out


def doc_start(lm: Any) -> list[int]:
    """The BOS id of a transformers tokenizer (Qwen: ``<|endoftext|>``, its document separator)."""
    bos = lm.tokenizer.bos_token_id
    return [int(bos)] if bos is not None else []


def perplexity(lm: Any, seqs: Sequence[list[int]]) -> float:
    """Token perplexity of a transformers model on ``seqs`` (every position after the first)."""
    import torch

    nll, n = 0.0, 0
    with torch.inference_mode():
        for ids in seqs:
            logits = lm.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])
            nll -= float(logp.sum())
            n += len(ids) - 1
    return math.exp(nll / max(n, 1))


def teacher_targets(large: Any, seqs: Sequence[list[int]], top_k: int, folder: Path | None = None,
                    progress: Callable[[str], Any] | None = None) -> list[tuple[Any, Any]]:
    """The large model's top-``k`` next-token (ids, probabilities renormalised over the k) at every
    position of each window; kept as ``folder/<i>.npz`` and reused when the window is the same."""
    import numpy as np

    out = []
    start = time.perf_counter()
    for i, ids in enumerate(seqs):
        f = folder / f"{i:05d}.npz" if folder is not None else None
        if f is not None and f.is_file():
            z = np.load(f)
            if z["ids"].tolist() == ids and z["top"].shape[1] == top_k:
                out.append((z["top"], z["prob"]))
                continue
        rows = large.position_logits(ids, len(ids))[:-1].astype(np.float32)
        top = np.argpartition(-rows, top_k - 1, axis=1)[:, :top_k]
        picked = np.take_along_axis(rows, top, 1)
        prob = np.exp(picked - picked.max(1, keepdims=True))
        prob /= prob.sum(1, keepdims=True)
        out.append((top.astype(np.int32), prob.astype(np.float16)))
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
            np.savez(f, ids=np.array(ids, dtype=np.int32), top=out[-1][0], prob=out[-1][1])
        if progress is not None and (i + 1) % 20 == 0:
            progress(f"teacher: {i + 1}/{len(seqs)} windows, {time.perf_counter() - start:.0f} s")
    return out


def trainable_names(lm: Any, train_layers: int) -> list[str]:
    layers = lm.model.config.num_hidden_layers
    if not 1 <= train_layers <= layers:
        raise InputError(f"train_layers must be in 1..{layers} (the small model's layers), got {train_layers}")
    keep = tuple(f"model.layers.{i}." for i in range(layers - train_layers, layers)) + ("model.norm.",)
    return [n for n, _ in lm.model.named_parameters() if n.startswith(keep)]


def clone_trainable(lm: Any, names: Sequence[str]) -> Any:
    """A copy of ``lm``'s module whose ``names`` tensors are its own (trainable) and all others shared."""
    params = dict(lm.model.named_parameters())
    memo: dict[int, Any] = {id(p): p for n, p in params.items() if n not in names}
    module = copy.deepcopy(lm.model, memo=memo)
    for n, p in module.named_parameters():
        p.requires_grad_(n in names)
    return module


def train_steps(module: Any, seqs: Sequence[list[int]], targets: Sequence[tuple[Any, Any]], steps: range,
                optimizer: Any, schedule: Callable[[int], float], base_lr: float, gold_weight: float = 0.0) -> list[float]:
    """One window a step: cross-entropy to the teacher's top-k ``targets``, plus ``gold_weight`` times the
    cross-entropy to the text's own next tokens."""
    import torch

    losses = []
    module.train()
    for step in steps:
        i = step % len(seqs)
        ids = torch.tensor([seqs[i]])
        # bf16 matmuls: the frozen 151,936 x 1,536 head costs 5x less (measured: 0.39 vs 1.97 s for 128 tokens)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = module(input_ids=ids).logits[0, :-1]
        logp = torch.log_softmax(logits.float(), -1)
        top, prob = targets[i]
        loss = -(torch.from_numpy(prob.astype("float32")) * logp.gather(1, torch.from_numpy(top.astype("int64")))).sum(1).mean()
        if gold_weight:
            loss = loss - gold_weight * logp.gather(1, ids[0, 1:, None]).mean()
        for group in optimizer.param_groups:
            group["lr"] = base_lr * schedule(step)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in module.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    module.eval()
    return losses


def make_proxy_pair(
    out: str | Path,
    *,
    layers: int = 4,
    train_layers: int = 2,
    seq_len: int = 128,
    distill_steps: int = 60,
    tune_steps: int = 160,
    top_k: int = 64,
    lr: float = 3e-4,
    gold_weight: float = 1.0,
    heldout: int = 100,
    eval_articles: int = 20,
    eval_tokens: int = 256,
    train_articles: int | None = None,
    exclude_docs: Iterable[str] = (),
    seed: int = 0,
    large: Any = "qwen2.5-1.5b",
    first_layers: str | Path | None = None,
    records: Sequence[dict[str, Any]] | None = None,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Train the base and tuned models into ``out/base`` and ``out/tuned`` (see the module doc) and
    write ``out/pilotfish_proxy_pair.json``: what was used and the held-out perplexities."""
    import torch
    from safetensors.torch import save_file

    from pilotfish.models.qwen_small import META, ensure_first_layers

    if distill_steps < 1 or tune_steps < 1:
        raise InputError(f"distill_steps and tune_steps must be >= 1, got {distill_steps} and {tune_steps}")
    if gold_weight <= 0:
        raise InputError(f"gold_weight must be > 0 (it is what makes the tuned model differ), got {gold_weight}")
    if not 2 <= top_k <= 4096:
        raise InputError(f"top_k must be in 2..4096, got {top_k}")
    say = progress or (lambda msg: None)
    out = Path(out)
    t0 = time.perf_counter()
    first_dir = Path(first_layers) if first_layers is not None else ensure_first_layers(layers)
    first = get_model(f"hf:{first_dir}")  # shared: the pair loaded later reuses it
    big = get_model(large)
    if not getattr(big, "white_box", False) or not hasattr(big, "position_logits"):
        raise WhiteBoxRequiredError("proxy-pair (the large model's logits teach the base)", big)
    probe = "The Chancellor said on Tuesday: naïve café, 42%."
    if big.vocab_size != first.vocab_size or big.encode(probe) != first.encode(probe):
        raise InputError(f"{getattr(big, 'model_id', large)} and the small model {first_dir} tokenize differently")
    split = proxy_split(exclude_docs, heldout=heldout, seed=seed, records=records)
    train_recs = split["train"][:train_articles] if train_articles else split["train"]
    total = distill_steps + tune_steps
    train = windows(first, [r["text"] for r in train_recs], seq_len)[:total]
    if not train:
        raise InputError("no training article is long enough")
    held = windows(first, [r["text"] for r in split["heldout"][:eval_articles]], eval_tokens)
    say(f"{len(train)} training windows of <= {seq_len} tokens, {len(held)} held-out windows of <= {eval_tokens}")
    t_teacher = time.perf_counter()
    targets = teacher_targets(big, train, top_k, out / "teacher", progress=say)
    teacher_s = time.perf_counter() - t_teacher
    names = trainable_names(first, train_layers)

    warmup = max(1, total // 10)

    def schedule(step: int) -> float:  # linear warm-up over the first tenth, then cosine
        return (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))

    torch.manual_seed(seed)
    t_train = time.perf_counter()
    base = clone_trainable(first, names)
    opt = torch.optim.AdamW([p for p in base.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    base_losses = train_steps(base, train, targets, range(distill_steps), opt, schedule, lr)
    say(f"shared distillation: {distill_steps} steps, loss {base_losses[0]:.3f} -> {base_losses[-1]:.3f}")
    tuned = clone_trainable(type(first)(base, first.tokenizer, "tuned"), names)
    opt_tuned = copy.deepcopy(opt.state_dict())
    opt2 = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    opt2.load_state_dict(opt_tuned)
    base_losses += train_steps(base, train, targets, range(distill_steps, total), opt, schedule, lr)
    say(f"base: {total} distillation steps, loss -> {base_losses[-1]:.3f}")
    tuned_losses = train_steps(tuned, train, targets, range(distill_steps, total), opt2, schedule, lr, gold_weight)
    say(f"tuned: {tune_steps} steps on the distributions + {gold_weight:g} x the gold tokens, "
        f"loss {tuned_losses[0]:.3f} -> {tuned_losses[-1]:.3f}")
    train_s = time.perf_counter() - t_train
    HF = type(first)
    ppl = {"first_layers": perplexity(first, held), "base": perplexity(HF(base, first.tokenizer, "base"), held),
           "tuned": perplexity(HF(tuned, first.tokenizer, "tuned"), held)}
    say(f"held-out perplexity: first layers {ppl['first_layers']:.1f}, base {ppl['base']:.1f}, tuned {ppl['tuned']:.1f}")
    record = {
        "large": getattr(big, "model_id", str(large)), "first_layers": str(first_dir), "layers": layers,
        "train_layers": train_layers, "trained_tensors": names, "seq_len": seq_len, "distill_steps": distill_steps,
        "tune_steps": tune_steps, "top_k": top_k, "lr": lr, "gold_weight": gold_weight, "schedule": "AdamW, linear warm-up (a tenth of the steps) then cosine, no weight decay, clip 1.0, bf16 autocast",
        "seed": seed, "train_windows": len(train), "train_tokens": sum(len(s) for s in train),
        "train_articles": [r["id"] for r in train_recs[: len(train)]],
        "heldout_articles": [r["id"] for r in split["heldout"]], "excluded_articles": sorted(set(exclude_docs)),
        "eval_windows": len(held), "eval_tokens": sum(len(s) for s in held),
        "heldout_ppl_first_layers": ppl["first_layers"], "heldout_ppl_base": ppl["base"], SCORE_KEY: ppl["tuned"],
        "loss_base_first_last": [base_losses[0], base_losses[-1]],
        "loss_tuned_first_last": [tuned_losses[0], tuned_losses[-1]],
        "teacher_seconds": round(teacher_s, 1), "train_seconds": round(train_s, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    for role, module, losses in (("base", base, base_losses), ("tuned", tuned, tuned_losses)):
        d = out / role
        d.mkdir(parents=True, exist_ok=True)
        state = {n: p.detach().contiguous() for n, p in module.named_parameters() if n in names}
        save_file(state, str(d / "trained.safetensors"))
        meta = {"kind": "trained", "role": role, "parent": str(first_dir), "trained_tensors": names,
                "objective": "the large model's top-k distributions" if role == "base"
                else f"the large model's top-k distributions for {distill_steps} steps, then the same plus "
                     f"{gold_weight:g} x the cross-entropy on the gold tokens",
                "losses": losses[:: max(1, len(losses) // 50)],
                "sizes": {"trained.safetensors": (d / "trained.safetensors").stat().st_size}}
        (d / META).write_text(json.dumps(meta, indent=2))
    (out / PAIR_META).write_text(json.dumps(record, indent=2))
    return record
