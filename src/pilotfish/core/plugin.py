"""The base class for configurable plugins.

A plugin is any object with ``@pilotfish.hookimpl`` methods or functions: a module, an
instance, or a subclass of :class:`Plugin`. Subclassing buys validated options: the nested
``Options`` pydantic model (``extra="forbid"``) receives the plugin's table of the config file
(``[pilotfish.plugin.NAME]``), so a misspelt option fails at start-up with its name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError


class PluginOptions(BaseModel):
    """Base for plugin options: unknown keys are errors, and values are validated strictly (``"0.5"``
    for a number or ``"yes"`` for a boolean is an error naming the option, not a silent conversion;
    an integer is accepted where a number is expected)."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())


class Plugin:
    """Base class for plugins that take options.

    Example::

        class Shout(pilotfish.Plugin):
            name = "shout"

            class Options(pilotfish.PluginOptions):
                suffix: str = "!"

            @pilotfish.hookimpl
            def before_prompt(self, request):
                return request.replace(question=request.question.upper() + self.options.suffix)
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = PluginOptions
    options: Any
    """The validated options (an instance of ``Options``)."""

    def __init__(self, options: dict[str, Any] | BaseModel | None = None, **kwargs: Any):
        if isinstance(options, BaseModel):
            self.options = options
        else:
            merged = dict(options or {})
            merged.update(kwargs)
            self.options = validate_options(self.name or type(self).__name__, self.Options, merged)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def options_model(obj: Any) -> type[BaseModel] | None:
    """The pydantic options model a plugin object declares, if any."""
    model = getattr(obj, "Options", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model
    return None


_TYPE_WORDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a table",
    "literal_error": None,
    "tuple_type": "a list",
    "is_instance_of": None,
}


def format_validation_error(where: str, exc: ValidationError, known: list[str] | None = None) -> str:
    """Turn a pydantic error into lines a user can act on (names the option and what was expected)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(options)"
        kind = err["type"]
        if kind == "extra_forbidden":
            hint = f" (known options: {', '.join(known)})" if known else ""
            lines.append(f"{where}: unknown option {loc!r}{hint}")
        elif kind == "missing":
            lines.append(f"{where}: option {loc!r} is required")
        else:
            expected = _TYPE_WORDS.get(kind)
            msg = f"expects {expected}" if expected else err["msg"]
            lines.append(f"{where}: option {loc!r} {msg}, got {err.get('input')!r}")
    return "\n".join(lines)


def validate_options(plugin: str, model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        known = sorted(model.model_fields)
        raise ConfigError(format_validation_error(f"plugin {plugin!r}", exc, known)) from None
