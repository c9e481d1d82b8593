"""Exceptions and warnings raised by pilotfish.

Every error a user can cause derives from :class:`PilotfishError`, so a CLI or an app can
catch one class and print a message instead of a traceback.
"""

from __future__ import annotations


class PilotfishError(Exception):
    """Base class of every error pilotfish raises on purpose."""


class PilotfishWarning(UserWarning):
    """Base class of pilotfish's own warnings (tests turn them into errors)."""


class ConfigError(PilotfishError):
    """The configuration file or options are invalid."""


class PluginNotFoundError(ConfigError):
    """A plugin named in the configuration is not installed."""


class PluginError(PilotfishError):
    """A plugin raised inside a hook, or could not be registered.

    Carries the plugin name and the hook so the user knows whom to blame.
    """

    def __init__(self, plugin: str, hook: str | None, message: str):
        self.plugin = plugin
        self.hook = hook
        where = f"plugin {plugin!r}" + (f" in hook {hook!r}" if hook else "")
        super().__init__(f"{where}: {message}")


class ModelError(PilotfishError):
    """A model could not be resolved or loaded."""


class ModelNotFoundError(ModelError):
    """A model id is unknown."""


class MissingDependencyError(ModelError):
    """A package needed for a model or plugin is not installed; says which ``pip install`` fixes it."""

    def __init__(self, package: str, extra: str | None = None, purpose: str = ""):
        self.package = package
        fix = f"pip install 'pilotfish[{extra}]'" if extra else f"pip install {package}"
        what = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"the package {package!r} is not installed{what}; fix: {fix}")


class ContextLengthError(PilotfishError):
    """A prompt does not fit in the model's context window."""


class InputError(PilotfishError):
    """The user's input (question, messages, file) is invalid."""


class RetrievalIndexError(PilotfishError):
    """The RAG index is missing, damaged, or was built with other settings; the message names the
    file and the command that rebuilds it."""


class WhiteBoxRequiredError(PilotfishError):
    """A plugin needs token-level access (logits, tokenizer) but got a black-box model."""

    def __init__(self, plugin: str, model: object):
        super().__init__(
            f"plugin {plugin!r} needs a white-box model (tokenizer and next-token logits), "
            f"but {getattr(model, 'model_id', model)!r} is black-box; use a local model such as "
            "'smollm2-135m' or 'hf:<path>'"
        )
