"""The ``server`` plugin: adds ``pilotfish serve`` (see :mod:`pilotfish.server.app`)."""

from __future__ import annotations

import os
from typing import Any

from pilotfish.core.errors import ConfigError, MissingDependencyError
from pilotfish.core.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    import click

    @cli.command()
    @click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                  help="pilotfish.toml (default: ./pilotfish.toml or [tool.pilotfish] in ./pyproject.toml)")
    @click.option("--model", "-m", default=None, help="model id (default from config)")
    @click.option("--plugin", "-p", "plugins", multiple=True, help="enable a plugin by name (repeatable)")
    @click.option("--index", "-i", type=click.Path(file_okay=False), default=None, help="answer from this RAG index")
    @click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (loopback by default)")
    @click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
    @click.option("--api-key", default=None, envvar="PILOTFISH_API_KEY",
                  help="require 'Authorization: Bearer KEY' (also $PILOTFISH_API_KEY)")
    @click.option("--max-body", type=click.IntRange(min=1), default=1_000_000, show_default=True,
                  help="largest request body in bytes (413 above)")
    @click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
                  help="also answer requests whose Host header is NAME (repeatable; localhost, loopback "
                       "addresses and --host are always allowed; '*' for any); others get 400")
    @click.option("--allow-origin", "allowed_origins", multiple=True, metavar="ORIGIN",
                  help="allow cross-origin (CORS) requests from ORIGIN, e.g. http://localhost:3000 "
                       "(repeatable; '*' for any); others get 403")
    @click.option("--max-tokens-limit", type=click.IntRange(min=1), default=4096, show_default=True,
                  help="largest max_tokens a request may ask for (400 above)")
    @click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=300.0,
                  show_default=True, help="seconds a request may take, queueing included (504 after; "
                                          "its generation is stopped)")
    @click.option("--max-concurrent", type=click.IntRange(min=1), default=8, show_default=True,
                  help="requests answered at once")
    @click.option("--max-queue", type=click.IntRange(min=0), default=64, show_default=True,
                  help="requests waiting for a slot (503 with Retry-After beyond)")
    @click.option("--ui", is_flag=True, help="serve the chat page at /")
    @click.option("--preload/--no-preload", default=True, show_default=True, help="load the model before serving")
    def serve(config_path: str | None, model: str | None, plugins: tuple[str, ...], index: str | None, host: str,
              port: int, api_key: str | None, max_body: int, allowed_hosts: tuple[str, ...],
              allowed_origins: tuple[str, ...], max_tokens_limit: int, request_timeout: float, max_concurrent: int,
              max_queue: int, ui: bool, preload: bool) -> None:
        """Serve the configured chain over an OpenAI-compatible HTTP API (and a chat page with --ui)."""
        try:
            import uvicorn
        except ImportError as exc:
            raise MissingDependencyError("uvicorn", "server", "pilotfish serve") from exc
        from pilotfish.core.build import build_pilot

        from .app import create_app

        pilot = build_pilot(config_path, model, plugins, index=index)
        if preload:
            loaded = pilot.get_model()
            click.echo(f"model {getattr(loaded, 'model_id', loaded)} loaded", err=True)
        app = create_app(pilot, api_key=api_key, max_body_bytes=max_body, ui=ui,
                         allowed_hosts=(host, *allowed_hosts), allowed_origins=allowed_origins,
                         max_tokens_limit=max_tokens_limit, request_timeout=request_timeout,
                         max_concurrent=max_concurrent, max_queue=max_queue)
        if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
            click.echo(f"Warning: serving on {host} without --api-key", err=True)
        click.echo(f"pilotfish serving on http://{host}:{port}" + (" (chat page at /)" if ui else ""), err=True)
        try:
            uvicorn.run(app, host=host, port=port, log_level=os.environ.get("PILOTFISH_LOG_LEVEL", "warning"))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
