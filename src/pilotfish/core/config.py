"""Configuration: ``pilotfish.toml`` (table ``[pilotfish]``) or ``[tool.pilotfish]`` in ``pyproject.toml``.

Example::

    [pilotfish]
    model = "qwen2.5-1.5b"
    plugins = ["bm25", "entailment"]
    top_k = 5
    max_repair_rounds = 2

    [pilotfish.generation]
    max_tokens = 200

    [pilotfish.plugin.bm25]
    index = "./index"
    on_error = "skip"        # reserved key of every plugin table: "raise" (default) or "skip"

Validation happens when the config is read (the top level) and when the plugins are built
(each plugin's table against its ``Options``): an unknown plugin lists the installed ones, an
unknown option names the option and the plugin, a wrong type says what was expected. It is
strict: a value of another type is an error, never converted (``max_tokens = 3.0``,
``temperature = "0.5"``, ``dedupe = "yes"``); an integer is accepted where a number is expected.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .plugin import format_validation_error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_MODEL = "qwen2.5-1.5b"
CONFIG_FILENAMES = ("pilotfish.toml", "pyproject.toml")


STRICT = ConfigDict(extra="forbid", strict=True, protected_namespaces=())
"""Strict validation: ``max_tokens = 3.0``, ``temperature = "0.5"`` and ``dedupe = "yes"`` are errors
naming the key, never silently converted (an integer is still accepted where a number is expected)."""


class GenerationConfig(BaseModel):
    model_config = STRICT

    max_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None


class PilotConfig(BaseModel):
    """The validated ``[pilotfish]`` table."""

    model_config = STRICT

    model: str = DEFAULT_MODEL
    plugins: list[str] = Field(default_factory=list)
    top_k: int = Field(5, ge=1)
    """Passages given to the model after fusion and reranking."""
    candidates: int = Field(20, ge=1)
    """Passages asked of each retriever before fusion and reranking."""
    dedupe: bool = True
    """Drop fused candidates whose text repeats an earlier one's (before ``rerank``)."""
    fusion: Literal["rrf", "zscore"] = "rrf"
    """How the host fuses several retrievers' lists: reciprocal rank fusion, or the sum of each list's
    standardised scores."""
    max_repair_rounds: int = Field(2, ge=0)
    on_error: Literal["raise", "skip"] = "raise"
    system_prompt: str | None = None
    index: str | None = None
    """The RAG index directory retrievers read (``pilotfish index DIR`` builds it)."""
    threads: Annotated[int, Field(ge=1, strict=True)] | Literal["auto"] = "auto"
    """CPU threads of the local models (torch and llama.cpp); ``$PILOTFISH_THREADS`` wins. ``auto``
    takes every core only while other processes leave them idle (see :mod:`pilotfish.core.threads`)."""
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    plugin: dict[str, dict[str, Any]] = Field(default_factory=dict)
    path: Path | None = Field(None, exclude=True, strict=False)
    """The file this config was read from (relative paths in options are relative to it)."""

    def plugin_options(self, name: str) -> dict[str, Any]:
        return dict(self.plugin.get(name, {}))


def parse_config(data: dict[str, Any], source: str = "config") -> PilotConfig:
    try:
        return PilotConfig.model_validate(data)
    except ValidationError as exc:
        known = sorted(k for k in PilotConfig.model_fields if k != "path")
        raise ConfigError(format_validation_error(f"{source} [pilotfish]", exc, known)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> PilotConfig:
    """Read and validate a config file.

    Without ``path``: ``$PILOTFISH_CONFIG``, then ``./pilotfish.toml``, then
    ``[tool.pilotfish]`` of ``./pyproject.toml``; defaults when none exists.
    """
    if path is None:
        env = os.environ.get("PILOTFISH_CONFIG")
        if env:
            path = env
        else:
            for name in CONFIG_FILENAMES:
                candidate = Path(name)
                if candidate.is_file():
                    cfg = _read(candidate, required=False)
                    if cfg is not None:
                        return cfg
            return PilotConfig()
    cfg = _read(Path(path), required=True)
    assert cfg is not None
    return cfg


def _read(path: Path, required: bool) -> PilotConfig | None:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("pilotfish")
    else:
        table = data.get("pilotfish")
        if table is None and data:
            unknown = ", ".join(sorted(data))
            raise ConfigError(f"{path}: expected a [pilotfish] table, found: {unknown}")
    if table is None:
        if required:
            raise ConfigError(f"{path}: no [tool.pilotfish] table")
        return None
    cfg = parse_config(table, str(path))
    cfg.path = path.resolve()
    return cfg
