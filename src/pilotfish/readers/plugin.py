"""The ``readers`` plugin: the ``reader`` model id and ``pilotfish train reader``.

``reader`` is trained on first use (progress lines on stderr, about 20 minutes on one core) into
``<cache>/models/reader-minilm/``, from the teacher questions the project ships; ``pilotfish train reader``
trains it ahead of time or elsewhere (``--out``). A reader whose recorded held-out F1 is under
:data:`~pilotfish.readers.model.QUALITY_FLOOR` is refused with the command that trains it fully.
``reader:<folder>`` loads a reader from a folder (no floor: the caller chose it).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import click

from pilotfish.core.errors import InputError, ModelError
from pilotfish.core.hookspecs import hookimpl

from .model import QUALITY_FLOOR, SCORE_KEY, read_meta

FOLDER = "reader-minilm"


def default_path() -> Path:
    from pilotfish.models.cache import cache_dir

    return cache_dir() / "models" / FOLDER


def _dev_docs() -> list[str]:
    """The dev sets' articles, when the checkout has them: never trained on (the reader is evaluated
    there)."""
    from pilotfish.data.records import read_doc_ids

    from .train import default_data

    try:
        root = default_data().parents[2]
    except InputError:
        return []
    out: set[str] = set()
    for name in ("bbc-qa-dev.jsonl", "bbc-claims-dev.jsonl"):
        f = root.parent / "shared" / "data" / name
        if f.is_file():
            out |= read_doc_ids(f)
    return sorted(out)


def load_reader(path: str | Path | None = None, *, floor: float | None = QUALITY_FLOOR) -> Any:
    """The ``reader`` model: the trained reader at ``path`` (default: the cache, trained there on first use).
    A reader under ``floor`` is refused."""
    from pilotfish.models.cache import FileLock

    from .model import ExtractiveReader, Reader

    target = Path(path) if path is not None else default_path()
    if path is None and read_meta(target) is None:
        with FileLock(target.parent / f".{target.name}.lock",
                      on_wait=lambda: print("pilotfish: waiting for another process training the reader",
                                            file=sys.stderr, flush=True)):
            if read_meta(target) is None:
                from .train import train_reader

                print(f"pilotfish: the reader is not trained yet; training it into {target} (first use, "
                      "about 20 min on one core)", file=sys.stderr, flush=True)
                from pilotfish.core.outputs import replace_dir

                start = time.perf_counter()
                meta: dict[str, Any] = {}
                # trained beside the target and moved into place: a crash leaves no half-written reader
                replace_dir(target, lambda tmp: meta.update(train_reader(tmp, exclude_docs=_dev_docs())),
                            kind="reader")
                print(f"pilotfish: reader trained in {time.perf_counter() - start:.0f} s; held-out F1 "
                      f"{meta[SCORE_KEY]}", file=sys.stderr, flush=True)
    found = read_meta(target)
    if found is None:
        raise ModelError(f"{target} holds no trained reader; train one with `pilotfish train reader --out {target}`")
    meta = found
    score = meta.get(SCORE_KEY)
    if floor is not None and (not isinstance(score, (int, float)) or score < floor):
        raise ModelError(f"the reader in {target} recorded held-out F1 {score} (quality floor {floor}); it is not "
                         f"used. Train it fully with `pilotfish train reader --force`"
                         + (f" ({meta['stopped_early']})" if meta.get("stopped_early") else ""))
    return Reader(ExtractiveReader(target), model_id="reader" if path is None else f"reader:{path}")


def _available() -> bool:
    from pilotfish.models.packaged import packaged_available

    return packaged_available("minilm") and importlib.util.find_spec("transformers") is not None


@hookimpl
def register_models(register: Any) -> None:
    register("reader", lambda: load_reader(), kind="reader", available=_available,
             description="extractive reader (MiniLM span head, distilled from Qwen's questions): a cited span "
                         "or a refusal, with its confidence; trained on first use")
    register.scheme("reader", lambda path: load_reader(path, floor=None),
                    description="a reader trained with `pilotfish train reader --out DIR`: reader:<DIR>")


@hookimpl
def register_commands(cli: Any) -> None:
    train = cli.commands.get("train")
    if train is not None and "reader" not in train.commands:
        train.add_command(train_reader_command)


@click.command(name="reader")
@click.option("--data", multiple=True, type=click.Path(exists=True),
              help="teacher questions: `pilotfish synthesize questions` output or its --state-dir (repeatable; "
                   "default: the shipped datasets/teacher-questions)")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help=f"output folder (default: <cache>/models/{FOLDER}, where the `reader` id looks)")
@click.option("--exclude-docs", "exclude_docs", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="keep these articles out of training (.jsonl with doc_id, or one id per line; repeatable; "
                   "default: the dev sets' articles when ../shared/data has them)")
@click.option("--cloze", type=click.IntRange(min=0), default=2000, show_default=True,
              help="cloze questions added for span practice")
@click.option("--epochs", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--lr", type=click.FloatRange(min=1e-7), default=1e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-minutes", type=click.FloatRange(min=0.1), default=None,
              help="stop early (the recorded score says so, and the quality floor still applies)")
@click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
def train_reader_command(data: tuple[str, ...], out: str | None, exclude_docs: tuple[str, ...], cloze: int,
                         epochs: float, batch_size: int, lr: float, seed: int, max_minutes: float | None,
                         force: bool) -> None:
    """Train the extractive reader on the teacher's questions and record its held-out scores."""
    from pilotfish.core.outputs import check_output_dir, replace_dir
    from pilotfish.data.records import read_doc_ids

    from .train import train_reader

    target = check_output_dir(out, force) if out else default_path()
    excluded: set[str] = set()
    for f in exclude_docs:
        excluded |= read_doc_ids(f)
    if not exclude_docs:
        excluded = set(_dev_docs())
    meta: dict[str, Any] = {}
    # written beside the target and moved into place: the previous reader stays until the new one is whole
    replace_dir(target, lambda tmp: meta.update(train_reader(
        tmp, data=list(data), cloze=cloze, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        exclude_docs=sorted(excluded), max_minutes=max_minutes)), kind="reader", force=True)
    click.echo(f"reader written to {target} in {meta['seconds']:.0f} s: {meta['train_examples']} examples; "
               f"held-out F1 {meta[SCORE_KEY]}, exact {meta['val_exact']}, right passage {meta['val_pick_accuracy']}, "
               f"abstains on no-answer {meta['val_abstain_accuracy']} ({meta['val_answerable']} answerable, "
               f"{meta['val_null']} no-answer held out; {len(excluded)} articles excluded)")
