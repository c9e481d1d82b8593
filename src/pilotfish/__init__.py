"""pilotfish: small models helping large language models.

A pluggy host (:class:`Pilot`) with hook points where small-model plugins attach to any large
model. Plugin authors write ``@pilotfish.hookimpl`` functions or methods; see
:mod:`pilotfish.core.hookspecs` for every hook.
"""

from pilotfish.core.config import PilotConfig, load_config
from pilotfish.core.errors import (
    ConfigError,
    ContextLengthError,
    InputError,
    MissingDependencyError,
    ModelError,
    ModelNotFoundError,
    PilotfishError,
    PilotfishWarning,
    PluginError,
    PluginNotFoundError,
    WhiteBoxRequiredError,
)
from pilotfish.core.hookspecs import hookimpl, hookspec
from pilotfish.core.manager import PluginManager, build_manager, installed_plugins
from pilotfish.core.models import Embedder, LanguageModel, WhiteBoxModel, get_model
from pilotfish.core.pilot import Pilot, reciprocal_rank_fusion, zscore_fusion
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import (
    Answer,
    Document,
    Generation,
    Message,
    RepairResult,
    RepairRound,
    Request,
    Route,
    TraceEvent,
    Usage,
    Verdict,
)
from pilotfish.models.fake import FakeModel

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "ConfigError",
    "ContextLengthError",
    "Document",
    "Embedder",
    "FakeModel",
    "Generation",
    "InputError",
    "LanguageModel",
    "Message",
    "MissingDependencyError",
    "ModelError",
    "ModelNotFoundError",
    "Pilot",
    "PilotConfig",
    "PilotfishError",
    "PilotfishWarning",
    "Plugin",
    "PluginError",
    "PluginManager",
    "PluginNotFoundError",
    "PluginOptions",
    "RepairResult",
    "RepairRound",
    "Request",
    "Route",
    "TraceEvent",
    "Usage",
    "Verdict",
    "WhiteBoxModel",
    "WhiteBoxRequiredError",
    "__version__",
    "build_manager",
    "get_model",
    "hookimpl",
    "hookspec",
    "installed_plugins",
    "load_config",
    "reciprocal_rank_fusion",
    "zscore_fusion",
]
