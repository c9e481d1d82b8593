"""``pilotfish train proxy-pair``: the same-tokenizer small pair that ``proxy-tune`` steers Qwen with."""

from __future__ import annotations

import json
import time

import click


@click.command(name="proxy-pair")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder (default: <cache>/models/qwen2.5-small-bbc, where the model ids look)")
@click.option("--layers", type=click.IntRange(1, 28), default=4, show_default=True,
              help="Qwen2.5-1.5B's first layers the small models keep")
@click.option("--train-layers", type=click.IntRange(min=1), default=2, show_default=True,
              help="the last layers trained (with the final norm); the rest stays frozen and shared")
@click.option("--seq-len", type=click.IntRange(min=8), default=128, show_default=True,
              help="tokens per training window (an article's first tokens)")
@click.option("--distill-steps", type=click.IntRange(min=1), default=50, show_default=True,
              help="steps both models learn the large model's distributions")
@click.option("--tune-steps", type=click.IntRange(min=1), default=120, show_default=True,
              help="further steps: the base keeps distilling, the tuned model learns the gold tokens")
@click.option("--top-k", type=click.IntRange(2, 4096), default=64, show_default=True,
              help="the large model's top-k probabilities kept per position")
@click.option("--lr", type=float, default=3e-4, show_default=True)
@click.option("--gold-weight", type=float, default=1.0, show_default=True,
              help="the tuned model's weight on the gold tokens' cross-entropy (beside the distillation)")
@click.option("--heldout", type=click.IntRange(min=0), default=100, show_default=True,
              help="articles kept out of training for evaluation (ids recorded)")
@click.option("--eval-articles", type=click.IntRange(min=1), default=20, show_default=True,
              help="held-out articles (first 256 tokens) the recorded perplexities are measured on")
@click.option("--exclude-docs", "exclude_docs", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="keep these articles and their copies out of training and held-out text "
                   "(.jsonl with doc_id, or one id per line; repeatable): the dev sets")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
def train_proxy_pair_command(out: str | None, layers: int, train_layers: int, seq_len: int, distill_steps: int,
                             tune_steps: int, top_k: int, lr: float, gold_weight: float, heldout: int, eval_articles: int,
                             exclude_docs: tuple[str, ...], seed: int, force: bool) -> None:
    """Cut Qwen2.5-1.5B's first layers and train a base/tuned pair on BBC News text for proxy-tune.

    The large model's top-k distributions are kept in OUT/teacher, so a re-run with the same
    windows skips them. Writes OUT/base, OUT/tuned and OUT/pilotfish_proxy_pair.json.
    """
    from pilotfish.core.outputs import check_output_dir, mark_output
    from pilotfish.models.qwen_small import pair_dir

    from .proxy_pair import make_proxy_pair
    from .records import read_doc_ids

    target = check_output_dir(out, force) if out else pair_dir()
    excluded: set[str] = set()
    for f in exclude_docs:
        excluded |= read_doc_ids(f)
    start = time.perf_counter()
    target.mkdir(parents=True, exist_ok=True)
    mark_output(target, "proxy-pair")
    record = make_proxy_pair(target, layers=layers, train_layers=train_layers, seq_len=seq_len,
                             distill_steps=distill_steps, tune_steps=tune_steps, top_k=top_k, lr=lr, gold_weight=gold_weight, heldout=heldout,
                             eval_articles=eval_articles, exclude_docs=excluded, seed=seed,
                             progress=lambda msg: click.echo(f"[{time.perf_counter() - start:6.0f} s] {msg}", err=True))
    shown = {k: v for k, v in record.items() if not k.endswith("_articles") and k != "trained_tensors"}
    click.echo(json.dumps(shown, indent=2))
    click.echo(f"proxy pair written to {target} in {time.perf_counter() - start:.0f} s: held-out perplexity "
               f"base {record['heldout_ppl_base']:.1f}, tuned {record['heldout_ppl_tuned']:.1f}")
