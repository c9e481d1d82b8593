"""The ``compressors`` plugin: the ``lingua`` model id and ``pilotfish train lingua``.

``lingua`` is trained on first use (a few minutes on one core) into ``<cache>/models/lingua-minilm/``, from
the judged compressions the project ships (``datasets/teacher-compressions``); ``pilotfish train lingua``
trains it ahead of time or elsewhere (``--out``). ``lingua:<folder>`` loads one from a folder.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import click

from pilotfish.core.hookspecs import hookimpl

from .model import read_meta

FOLDER = "lingua-minilm"


def default_path() -> Path:
    from pilotfish.models.cache import cache_dir

    return cache_dir() / "models" / FOLDER


def load_lingua(path: str | Path | None = None) -> Any:
    """The ``lingua`` keep classifier at ``path`` (default: the cache, trained there on first use)."""
    from pilotfish.core.outputs import replace_dir
    from pilotfish.models.cache import FileLock

    from .model import KeepClassifier

    target = Path(path) if path is not None else default_path()
    if path is None and read_meta(target) is None:
        with FileLock(target.parent / f".{target.name}.lock",
                      on_wait=lambda: print("pilotfish: waiting for another process training lingua",
                                            file=sys.stderr, flush=True)):
            if read_meta(target) is None:
                from .train import train_lingua

                print(f"pilotfish: the keep classifier is not trained yet; training it into {target} (first use, "
                      "a few minutes on one core)", file=sys.stderr, flush=True)
                start = time.perf_counter()
                replace_dir(target, lambda tmp: train_lingua(tmp), kind="lingua")
                print(f"pilotfish: lingua trained in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return KeepClassifier(target, model_id="lingua" if path is None else f"lingua:{path}")


def _available() -> bool:
    from pilotfish.models.packaged import packaged_available

    return packaged_available("minilm") and importlib.util.find_spec("transformers") is not None


@hookimpl
def register_models(register: Any) -> None:
    register("lingua", lambda: load_lingua(), kind="compressor", available=_available,
             description="keep/drop word classifier (MiniLM, LLMLingua-2-style, distilled from compressions "
                         "Qwen judged answer-preserving): compress's fine step; trained on first use")
    register.scheme("lingua", lambda path: load_lingua(path),
                    description="a keep classifier trained with `pilotfish train lingua --out DIR`: lingua:<DIR>")


@hookimpl
def register_commands(cli: Any) -> None:
    train = cli.commands.get("train")
    if train is not None and "lingua" not in train.commands:
        train.add_command(train_lingua_command)


@click.command(name="lingua")
@click.option("--data", multiple=True, type=click.Path(exists=True),
              help="judged compressions: `pilotfish synthesize compressions` output or its --state-dir (repeatable; "
                   "default: the shipped datasets/teacher-compressions)")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help=f"output folder (default: <cache>/models/{FOLDER}, where the `lingua` id looks)")
@click.option("--epochs", type=click.FloatRange(min=0.01), default=4.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--lr", type=click.FloatRange(min=1e-7), default=5e-5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
def train_lingua_command(data: tuple[str, ...], out: str | None, epochs: float, batch_size: int, lr: float,
                         seed: int, force: bool) -> None:
    """Train the keep classifier (LLMLingua-2-style) on the compressions the large model judged best."""
    from pilotfish.core.outputs import check_output_dir, replace_dir

    from .train import train_lingua

    target = check_output_dir(out, force) if out else default_path()
    meta: dict[str, Any] = {}
    replace_dir(target, lambda tmp: meta.update(train_lingua(
        tmp, data=list(data), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)),
        kind="lingua", force=True)
    click.echo(f"keep classifier written to {target} in {meta['seconds']:.0f} s: {meta['train_examples']} examples; "
               f"held-out: label F1 {meta['val_label_f1']}, answer kept {meta['val_answer_kept']} against "
               f"{meta['val_answer_kept_logprob']} for the log-prob method ({meta['val_with_answer']} questions)")
