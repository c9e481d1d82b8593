"""Cheap validators (``verify`` hook): no model, microseconds per answer.

- ``json-schema``: the answer is JSON (code fences allowed) that validates against a schema.
- ``regex``: the answer matches (or must not match) a pattern.
- ``length``: characters / words / sentences within bounds.
- ``citations``: every sentence cites at least one retrieved passage ``[n]`` with
  ``1 <= n <= len(documents)``; one verdict per failing sentence (with its span, so
  ``drop-unsupported`` can remove it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from pilotfish.core.errors import ConfigError, MissingDependencyError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Verdict

from .claims import split_claims


def _ok(name: str, message: str = "") -> list[Verdict]:
    return [Verdict(name, True, "pass", message=message)]


def _fail(name: str, message: str, **kw: Any) -> Verdict:
    return Verdict(name, False, "fail", message=message, **kw)


def extract_json_text(text: str) -> str:
    m = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    return (m.group(1) if m else text).strip()


class JsonSchemaOptions(PluginOptions):
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    schema_file: str | None = None

    @model_validator(mode="after")
    def _one(self) -> JsonSchemaOptions:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("give exactly one of 'schema' (a table) or 'schema_file' (a path)")
        return self


class JsonSchemaValidator(Plugin):
    name = "json-schema"
    Options = JsonSchemaOptions

    def __init__(self, options: Any = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        try:
            import jsonschema
        except ImportError as exc:
            raise MissingDependencyError("jsonschema", None, "the json-schema validator") from exc
        schema = self.options.schema_
        if schema is None:
            path = Path(self.options.schema_file).expanduser()
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"plugin 'json-schema': cannot read schema_file {path}: {exc}") from None
        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"plugin 'json-schema': the schema is invalid: {exc.message}") from None
        self._validator = cls(schema)

    def check(self, text: str) -> list[Verdict]:
        try:
            data = json.loads(extract_json_text(text))
        except json.JSONDecodeError as exc:
            return [_fail(self.name, f"the answer is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
        errors = sorted(self._validator.iter_errors(data), key=lambda e: list(e.path))
        if not errors:
            return _ok(self.name, "valid JSON for the schema")
        return [_fail(self.name, f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message}") for e in errors[:10]]

    @hookimpl
    def verify(self, text: str) -> list[Verdict]:
        return self.check(text)


class RegexOptions(PluginOptions):
    pattern: str
    mode: Literal["search", "fullmatch"] = "search"
    forbid: bool = False
    """True: the answer must NOT match."""
    ignore_case: bool = False


class RegexValidator(Plugin):
    name = "regex"
    Options = RegexOptions

    def __init__(self, options: Any = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        try:
            self._re = re.compile(self.options.pattern, re.I if self.options.ignore_case else 0)
        except re.error as exc:
            raise ConfigError(f"plugin 'regex': invalid pattern {self.options.pattern!r}: {exc}") from None

    @hookimpl
    def verify(self, text: str) -> list[Verdict]:
        o = self.options
        m = self._re.search(text) if o.mode == "search" else self._re.fullmatch(text.strip())
        if bool(m) != o.forbid:
            return _ok(self.name)
        what = "matches the forbidden" if o.forbid else "does not match the"
        span = (m.start(), m.end()) if m else None
        return [_fail(self.name, f"the answer {what} pattern {o.pattern!r}", span=span)]


class LengthOptions(PluginOptions):
    min_chars: int = Field(0, ge=0)
    max_chars: int | None = Field(None, ge=1)
    min_words: int = Field(0, ge=0)
    max_words: int | None = Field(None, ge=1)
    max_sentences: int | None = Field(None, ge=1)


class LengthValidator(Plugin):
    name = "length"
    Options = LengthOptions

    @hookimpl
    def verify(self, text: str) -> list[Verdict]:
        o = self.options
        chars, words, sents = len(text.strip()), len(text.split()), len(split_claims(text))
        problems = []
        if chars < o.min_chars:
            problems.append(f"{chars} characters < {o.min_chars}")
        if o.max_chars is not None and chars > o.max_chars:
            problems.append(f"{chars} characters > {o.max_chars}")
        if words < o.min_words:
            problems.append(f"{words} words < {o.min_words}")
        if o.max_words is not None and words > o.max_words:
            problems.append(f"{words} words > {o.max_words}")
        if o.max_sentences is not None and sents > o.max_sentences:
            problems.append(f"{sents} sentences > {o.max_sentences}")
        if not problems:
            return _ok(self.name, f"{chars} chars, {words} words, {sents} sentences")
        return [_fail(self.name, "; ".join(problems))]


class CitationsOptions(PluginOptions):
    require_every_sentence: bool = True
    """False: only check that cited numbers exist (at least one citation overall)."""


class CitationsValidator(Plugin):
    name = "citations"
    Options = CitationsOptions

    def check(self, text: str, documents: list[Document]) -> list[Verdict]:
        claims = split_claims(text)
        if not claims:
            return [_fail(self.name, "the answer is empty")]
        n = len(documents)
        out = []
        for c in claims:
            bad = [i for i in c.citations if not 1 <= i <= n]
            if bad:
                out.append(_fail(self.name, f"cites {', '.join(f'[{i}]' for i in bad)} but only {n} passage(s) were retrieved",
                                 claim=c.text, span=c.span))
            elif not c.citations and self.options.require_every_sentence:
                out.append(_fail(self.name, "the sentence cites no retrieved passage", claim=c.text, span=c.span))
        if not self.options.require_every_sentence and not any(c.citations for c in claims):
            out.append(_fail(self.name, "the answer cites no retrieved passage"))
        return out or _ok(self.name, f"{len(claims)} sentence(s) cite retrieved passages")

    @hookimpl
    def verify(self, text: str, documents: list[Document]) -> list[Verdict]:
        return self.check(text, documents)
