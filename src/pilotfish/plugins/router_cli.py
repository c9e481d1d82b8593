"""``pilotfish train router`` and ``pilotfish calibrate router`` (added by the ``router`` plugin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _calibrate_group(cli: Any) -> Any:
    group = cli.commands.get("calibrate")
    if group is None:
        @cli.group(name="calibrate")
        def calibrate_group() -> None:
            """Choose the operating point of a trained component (e.g. a router's threshold)."""

        group = calibrate_group
    return group


def add_commands(cli: Any) -> None:
    train = cli.commands.get("train")
    if train is not None and "router" not in train.commands:
        train.add_command(train_router_command)
    calibrate = _calibrate_group(cli)
    if "router" not in calibrate.commands:
        calibrate.add_command(calibrate_router_command)


@click.command(name="router")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="records of `pilotfish eval qa --records FILE` (repeatable): both models on the same questions")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="the router folder to write")
@click.option("--cheap", default=None, help="the cheap model id (default: of the two in the records, the less accurate)")
@click.option("--expensive", default=None, help="the expensive model id (default: the other one)")
@click.option("--target", type=click.Choice(["cheap-correct", "cheap-not-worse"]), default="cheap-correct",
              show_default=True, help="what the classifier predicts: the cheap model right, or not worse than the "
                                      "expensive one")
@click.option("--embedder", default="minilm", show_default=True, help="the sentence embedder of the questions")
@click.option("--holdout", type=click.FloatRange(0.05, 0.8), default=0.3, show_default=True,
              help="share of the questions held out (AUROC, and left for calibrate)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
def train_router_command(data: tuple[str, ...], out: str, cheap: str | None, expensive: str | None, target: str,
                         embedder: str, holdout: float, seed: int, force: bool) -> None:
    """Train a router: which questions the cheap model answers right, from eval qa records."""
    from pilotfish.core.models import get_model
    from pilotfish.core.outputs import replace_dir

    from .router_train import files_digest, pair_records, read_records, train_router

    pairs, info = pair_records(read_records(data), cheap, expensive)
    emb = get_model(embedder)
    router = train_router(pairs, emb, cheap=info["cheap"], expensive=info["expensive"], target=target,
                          holdout=holdout, seed=seed)
    router.meta["data"] = files_digest(data)
    replace_dir(Path(out), router.save, kind="router", force=force)
    h, t = router.meta["heldout"], router.meta["train"]
    click.echo(f"router written to {out}: cheap {info['cheap']}, expensive {info['expensive']}; {info['pairs']} paired "
               f"questions ({t['n']} trained, {h['n']} held out), target {target}")
    click.echo(f"held-out AUROC {h['auroc']} (train {t['auroc']}); held-out accuracy: cheap {h['cheap_accuracy']:.3f}, "
               f"expensive {h['expensive_accuracy']:.3f}; C = {router.meta['classifier']['C']}")
    skipped = {m: n for m, n in info["unpaired"].items() if n}
    if skipped or info["repeated_records"]:
        click.echo(f"unpaired records: {skipped or 0}; repeated (the later kept): {info['repeated_records']}", err=True)
    click.echo(f"next: pilotfish calibrate router --router {out} --data ... --target-accuracy X", err=True)


@click.command(name="router")
@click.option("--router", "router_path", required=True, type=click.Path(exists=True),
              help="the router folder (or its router.json)")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="eval qa records of both models (repeatable); questions the router was trained on are skipped")
@click.option("--target-accuracy", type=click.FloatRange(0.0, 1.0), default=None,
              help="the accuracy to reach (routed answers right, as a share of the questions)")
@click.option("--within", type=click.FloatRange(0.0, 1.0), default=None,
              help="instead of --target-accuracy: at most this far below the expensive model's accuracy (0.01 = 1 point)")
@click.option("--include-train", is_flag=True, help="also use the questions the router was trained on (optimistic)")
@click.option("--dry-run", is_flag=True, help="print the curve and the choice, do not write the threshold")
def calibrate_router_command(router_path: str, data: tuple[str, ...], target_accuracy: float | None,
                             within: float | None, include_train: bool, dry_run: bool) -> None:
    """Pick the router's threshold: the fewest expensive calls that reach the target accuracy."""
    from pilotfish.core.errors import InputError
    from pilotfish.core.models import get_model

    from .router_model import load_router
    from .router_train import (
        calibration_curve,
        choose_threshold,
        files_digest,
        frontier,
        pair_records,
        read_records,
    )

    if (target_accuracy is None) == (within is None):
        raise click.UsageError("give one of --target-accuracy X or --within X")
    router = load_router(router_path)
    emb = get_model(router.embedder)
    router.check_embedder(emb)
    pairs, _ = pair_records(read_records(data), router.cheap, router.expensive)
    if not pairs:
        raise InputError(f"no question has records of both {router.cheap} and {router.expensive}")
    curve, facts = calibration_curve(router, pairs, emb, include_train=include_train)
    target = target_accuracy if target_accuracy is not None else facts["expensive_accuracy"] - float(within or 0)
    chosen = choose_threshold(curve, target)
    click.echo(f"{facts['n']} questions ({facts['skipped_train']} skipped: trained on); always cheap "
               f"{facts['cheap_accuracy']:.3f}, always expensive {facts['expensive_accuracy']:.3f}; target {target:.3f}")
    click.echo(f"{'threshold':>9}  {'expensive calls':>15}  {'accuracy':>8}   (the curve's best points)")
    for row in frontier(curve):
        mark = "  <- chosen" if chosen is not None and row is chosen else ""
        click.echo(f"{row['threshold']:9.3f}  {100 * row['expensive_share']:14.1f}%  {row['accuracy']:8.3f}{mark}")
    if chosen is None:
        best = max(r["accuracy"] for r in curve)
        raise InputError(f"no threshold reaches accuracy {target:.3f} on these {facts['n']} questions (the best is "
                         f"{best:.3f}); lower the target")
    if dry_run:
        click.echo(f"threshold {chosen['threshold']:.4f} (not written: --dry-run)")
        return
    router.meta.update(threshold=round(chosen["threshold"], 4), threshold_source="calibrate",
                       calibration={"target_accuracy": round(target, 4), "n": facts["n"],
                                    "accuracy": round(chosen["accuracy"], 4),
                                    "expensive_share": round(chosen["expensive_share"], 4),
                                    "cheap_accuracy": round(facts["cheap_accuracy"], 4),
                                    "expensive_accuracy": round(facts["expensive_accuracy"], 4),
                                    "include_train": include_train, "data": files_digest(data)})
    router.write_meta()
    click.echo(f"threshold {chosen['threshold']:.4f} written to {router.path}: accuracy {chosen['accuracy']:.3f} with "
               f"{100 * chosen['expensive_share']:.1f}% expensive calls")
