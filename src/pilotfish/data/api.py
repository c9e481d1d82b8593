"""The host side of the data tools: build a Pilot with the data plugins and call their hooks.

Plugins are enabled by entry-point name when installed, so a third-party synthesizer, scorer
or distiller is used exactly like the built-ins; running from a source tree that was not
pip-installed, the built-in classes are registered directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pilotfish.core.errors import InputError, PilotfishError, PluginError

from .curation import merge_columns, select
from .records import Record, as_records, check_records


def _unwrap(call: Any, *args: Any) -> Any:
    """Call a hook; a user error raised inside a data plugin reaches the user as itself."""
    try:
        return call(*args)
    except PluginError as exc:
        if isinstance(exc.__cause__, PilotfishError) and not isinstance(exc.__cause__, PluginError):
            raise exc.__cause__ from None
        raise


def _builtin(name: str) -> Any:
    from .plugins import SCORERS, Distillers, Synthesis

    return {"synthesis": Synthesis, "distillers": Distillers, **SCORERS}.get(name)


def data_pilot(plugins: Sequence[Any] = (), options: dict[str, dict[str, Any]] | None = None,
               use_entrypoints: bool = True) -> Any:
    """A :class:`~pilotfish.Pilot` with the given data plugins (names or objects) enabled."""
    from pilotfish.core.manager import installed_plugins
    from pilotfish.core.pilot import Pilot

    installed = installed_plugins() if use_entrypoints else {}
    enabled: list[Any] = []
    for p in plugins:
        if isinstance(p, str) and p not in installed and _builtin(p) is not None:
            enabled.append(_builtin(p))
        else:
            enabled.append(p)
    return Pilot(model="fake", plugins=enabled, options=options, use_entrypoints=use_entrypoints)


def run_synthesis(method: str, records: Sequence[Any] = (), *, model: Any = "smollm2-135m",
                  params: dict[str, Any] | None = None, plugins: Sequence[Any] = (),
                  options: dict[str, dict[str, Any]] | None = None, pilot: Any = None) -> Any:
    """Call the ``synthesize`` hook (built-in ``synthesis`` plugin plus ``plugins``)."""
    pilot = pilot or data_pilot(["synthesis", *plugins], options)
    recs = as_records(list(records)) if method != "scratch" else []
    result = _unwrap(pilot.hooks.synthesize, method, recs, dict(params or {}), model, pilot)
    if result is None:
        raise InputError(f"no installed plugin synthesizes with method {method!r} "
                         "(built-in: scratch, label, paraphrase)")
    return result


def score(records: Sequence[Record], scorers: Sequence[Any], options: dict[str, dict[str, Any]] | None = None,
          pilot: Any = None) -> list[Record]:
    """Run the scorers' ``score_examples`` and write their columns into each record's ``scores``."""
    if not scorers and pilot is None:
        raise InputError("name at least one scorer (perplexity, ifd, coverage, quality-classifier, dedup)")
    recs = check_records(list(records))
    pilot = pilot or data_pilot(list(scorers), options)
    return merge_columns(recs, _unwrap(pilot.hooks.score_examples, recs, pilot))


def curate(records: Sequence[Record], scorers: Sequence[Any], *, options: dict[str, dict[str, Any]] | None = None,
           where: Sequence[str] = (), top: float | None = None, by: str | None = None, descending: bool = True,
           per: str | None = None, seed: int = 0) -> tuple[list[Record], list[Record]]:
    """Score, then select: returns (selected records, all scored records)."""
    scored = score(records, scorers, options)
    return select(scored, where=where, top=top, by=by, descending=descending, per=per, seed=seed), scored


def run_distill(task: str, records: Sequence[Any], *, teacher: Any = "hf:smollm2-135m", student: Any = None,
                params: dict[str, Any] | None = None, plugins: Sequence[Any] = (), pilot: Any = None) -> Any:
    """Call the ``distill`` hook (built-in ``distillers`` plugin plus ``plugins``)."""
    pilot = pilot or data_pilot(["distillers", *plugins])
    result = _unwrap(pilot.hooks.distill, task, list(records), teacher, student, dict(params or {}), pilot)
    if result is None:
        raise InputError(f"no installed plugin distills task {task!r} (built-in: classification, generation, whitebox)")
    return result
