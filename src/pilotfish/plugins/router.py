"""``router``: send each request to the cheap model or the expensive one (a ``route`` plugin).

RouteLLM-style (Ong et al. 2024): a logistic regression over the request's sentence embedding (MiniLM,
the model every plugin shares through ``get_model``) predicts ``p = P(the cheap model answers right)``.
``p >= threshold`` routes to the cheap model, else to the expensive one. Trained from ``pilotfish eval
qa --records`` runs of both models on the same (synthesized) questions with ``pilotfish train router``;
``pilotfish calibrate router`` picks the threshold that reaches a target accuracy with the fewest
expensive calls (see :mod:`.router_train`).

Specialists compete first: with ``specialists = [...]``, a specialist that accepts the request
(``Specialist.accepts``: ``request.metadata["task"]`` names its task) and whose measured accuracy beats
the expensive model's recorded one (``Specialist.beats``) gets it, without asking the classifier.

The decision is ``answer.route``: ``model``, ``reason`` (``"p 0.71 >= threshold 0.62: cheap"``),
``plugin = "router"`` and ``scores = {"p_cheap_right": p, "threshold": t, "cheap": 1.0 or 0.0}``.

Config::

    [pilotfish.plugin.router]
    path = "router/"                 # the folder `pilotfish train router --out` wrote
    threshold = 0.6                  # default: the file's (calibrated, or 0.5)
    cheap = "smollm2-135m"           # default: the file's recorded model ids
    expensive = "qwen2.5-1.5b"
    specialists = ["specialist:bbc-topic"]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field

from pilotfish.core.errors import ConfigError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Request, Route

from .router_model import RouterModel, embed, json_path, load_router


class Router(Plugin):
    """``route``: the cheap model when the trained router expects it to be right, else the expensive one."""

    name = "router"

    class Options(PluginOptions):
        path: str
        """The router folder (or its ``router.json``); relative paths: to the config file."""
        threshold: float | None = Field(None, ge=0.0, le=1.0)
        """Route to the cheap model when P(cheap right) >= threshold; default: the file's."""
        cheap: str | None = None
        """Default: the cheap model id the router was trained for."""
        expensive: str | None = None
        """Default: the expensive model id the router was trained for."""
        specialists: list[str] = Field(default_factory=list)
        """Specialist model ids that get a request they accept when they beat the expensive model."""

    def __init__(self, options: Any = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._loaded: dict[str, tuple[RouterModel, Any]] = {}

    def router(self, pilot: Any = None) -> tuple[RouterModel, Any]:
        """The loaded router and its embedder (once per pilot; the embedder is the shared model)."""
        from pilotfish.core.models import get_model

        path = json_path(pilot.resolve_path(self.options.path) if pilot is not None else Path(self.options.path))

        def build() -> tuple[RouterModel, Any]:
            model = load_router(path)
            embedder = get_model(model.embedder)
            if not hasattr(embedder, "embed"):
                raise ConfigError(f"router {path}: model {model.embedder!r} is not an embedder")
            model.check_embedder(embedder)
            return model, embedder

        stamp = path.stat().st_mtime_ns if path.is_file() else 0
        key = f"router:{path}:{stamp}"
        if pilot is None:  # used directly (benchmarks, notebooks): loaded once per plugin object
            if key not in self._loaded:
                self._loaded[key] = build()
            return self._loaded[key]
        return pilot.shared(key, build)

    def decide(self, question: str, pilot: Any = None) -> Route:
        """The route for a question by the classifier alone (no specialists)."""
        start = time.perf_counter()
        model, embedder = self.router(pilot)
        t = self.options.threshold if self.options.threshold is not None else model.threshold
        cheap = self.options.cheap or model.cheap
        expensive = self.options.expensive or model.expensive
        p = float(model.probabilities(embed(embedder, [question]))[0])
        to_cheap = p >= t
        reason = f"p {p:.3f} {'>=' if to_cheap else '<'} threshold {t:.3f}: {'cheap' if to_cheap else 'expensive'}"
        return Route(model=cheap if to_cheap else expensive, reason=reason, plugin=self.name,
                     scores={"p_cheap_right": round(p, 4), "threshold": float(t), "cheap": float(to_cheap),
                             "seconds": round(time.perf_counter() - start, 4)})

    def specialist_route(self, request: Request, pilot: Any) -> Route | None:
        """A configured specialist that accepts the request and beats the expensive model, if any."""
        if not self.options.specialists:
            return None
        expensive = self.options.expensive or self.router(pilot)[0].expensive
        for model_id in self.options.specialists:
            spec = pilot.get_model(model_id) if pilot is not None else None
            if spec is None or not (hasattr(spec, "accepts") and hasattr(spec, "beats")):
                raise ConfigError(f"router: {model_id!r} is not a specialist (it has no accepts/beats); "
                                  "name specialist ids such as 'specialist:bbc-topic'")
            if not spec.accepts(request):
                continue
            wins = spec.beats(expensive)
            if wins:
                mine = spec.measured_accuracy
                theirs = spec.baselines[expensive]["accuracy"]
                return Route(model=model_id, plugin=self.name,
                             reason=f"specialist {model_id} accepts the request and beats {expensive} "
                                    f"({mine:.3f} vs {theirs:.3f} measured accuracy)",
                             scores={"specialist_accuracy": float(mine), "expensive_accuracy": float(theirs)})
        return None

    @hookimpl
    def route(self, request: Request, pilot: Any) -> Route:
        return self.specialist_route(request, pilot) or self.decide(request.question, pilot)

    @staticmethod
    @hookimpl
    def register_commands(cli: Any) -> None:
        from .router_cli import add_commands

        add_commands(cli)
