"""The ``pilotfish`` command line.

Built-in commands: ``ask``, ``run`` (alias of ask that requires ``--config``), ``chat``,
``plugins``, ``models``. The groups ``eval`` and ``train`` are filled by plugins, and any
installed plugin can add commands through the ``register_commands`` hook.

Exit codes: 0 success, 1 a pilotfish error (message on stderr, no traceback), 2 bad usage,
130 interrupted.

The package: :mod:`.group` (the root group, ``eval``/``train``, shared options), :mod:`.answering`
(``ask``, ``run``, ``chat``), :mod:`.listing` (``plugins``, ``models``), :mod:`.output` (printing
answers); here, the plugins' commands and :func:`main`, the console entry point. Everything the
commands and plugins use is importable from ``pilotfish.cli``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from pilotfish.core.build import build_pilot
from pilotfish.core.errors import PilotfishError

from .answering import CORPUS_HELP, ask, chat, followup_query, pilot_for_command, run_command
from .group import PilotfishGroup, cli, config_option, eval_group, train_group
from .listing import TRAINED, models, plugins, trained_models
from .output import answer_to_json, print_answer, print_trace, print_verdicts

__all__ = [
    "CORPUS_HELP", "TRAINED", "PilotfishGroup", "answer_to_json", "ask", "build_pilot", "chat", "cli", "config_option",
    "eval_group", "followup_query", "load_plugin_commands", "main", "models", "pilot_for_command", "plugins",
    "print_answer", "print_trace", "print_verdicts", "run_command", "train_group", "trained_models",
]


def load_plugin_commands() -> None:
    from pilotfish.core.manager import discovery_manager

    try:
        discovery_manager().hook.register_commands(cli=cli)
    except PilotfishError as exc:
        click.echo(f"Warning: {exc}", err=True)


def _one_line_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                      line: str | None = None) -> None:
    """Warnings as one line on stderr (no source line) unless ``-v``."""
    click.echo(f"Warning: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    import warnings

    if not os.environ.get("PILOTFISH_VERBOSE") and "-v" not in (argv or sys.argv[1:]) and \
            "--verbose" not in (argv or sys.argv[1:]):
        warnings.showwarning = _one_line_warning
    load_plugin_commands()
    start = time.perf_counter()
    try:
        cli.main(args=argv, prog_name="pilotfish", standalone_mode=True)
    finally:
        if os.environ.get("PILOTFISH_TIMING"):
            click.echo(f"[{time.perf_counter() - start:.2f} s]", err=True)
