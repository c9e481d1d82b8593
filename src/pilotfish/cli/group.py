"""The root ``pilotfish`` group, its ``eval`` and ``train`` groups and the options commands share.

:class:`PilotfishGroup` turns pilotfish errors into one-line messages and exit code 1.
"""

from __future__ import annotations

import os
from typing import Any

import click

from pilotfish.core.errors import PilotfishError


class PilotfishGroup(click.Group):
    """Turns pilotfish errors into one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PilotfishError as exc:
            if os.environ.get("PILOTFISH_DEBUG"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=PilotfishGroup)
@click.version_option(package_name="pilotfish")
@click.option("--verbose", "-v", is_flag=True, help="show the libraries' loading bars and warnings")
def cli(verbose: bool) -> None:
    """pilotfish: small models helping large language models."""
    if verbose:
        os.environ["PILOTFISH_VERBOSE"] = "1"


@cli.group(name="eval", cls=PilotfishGroup)
def eval_group() -> None:
    """Evaluate retrieval, verification and other plugins."""


@cli.group(name="train", cls=PilotfishGroup)
def train_group() -> None:
    """Train the small models plugins use."""


def config_option(f: Any) -> Any:
    return click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                        help="pilotfish.toml (default: ./pilotfish.toml or [tool.pilotfish] in ./pyproject.toml)")(f)
