"""The objects that travel through the host: requests, documents, generations, verdicts, answers.

Plain dataclasses (no validation on the hot path): hooks receive and return these.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Message = dict[str, str]
"""A chat message: ``{"role": "user" | "assistant" | "system", "content": str}``."""


@dataclass(frozen=True)
class Request:
    """What the user asked, as the hooks see it.

    ``before_prompt`` plugins return a changed copy (``request.replace(...)``) instead of
    mutating it, so every step of the trace keeps the version it saw.
    """

    question: str
    messages: tuple[Message, ...] = ()
    system: str | None = None
    query: str | None = None
    """The text retrievers search with; defaults to ``question`` (query rewriting sets it)."""
    examples: tuple[Any, ...] = ()
    """Few-shot examples chosen by an example selector (put in the prompt by ``build_messages``)."""
    context: tuple[str, ...] = ()
    """Extra knowledge text added to the prompt (e.g. by a domain guide)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Generation parameters: ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``."""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def search_query(self) -> str:
        return self.query if self.query is not None else self.question

    def replace(self, **changes: Any) -> Request:
        return dataclasses.replace(self, **changes)


@dataclass
class Document:
    """A retrieved passage. ``id`` identifies the passage, ``doc_id`` the source document."""

    id: str
    text: str
    doc_id: str | None = None
    title: str | None = None
    score: float = 0.0
    retriever: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.doc_id is None:
            self.doc_id = self.id


@dataclass
class Generation:
    """What a model produced for one prompt."""

    text: str
    model: str = ""
    tokens: list[str] | None = None
    logprobs: list[float] | None = None
    """Log-probability of each generated token under the model, where the model exposes it."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: Literal["stop", "length", "error"] | str = "stop"
    latency_s: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_logprob(self) -> float | None:
        if not self.logprobs:
            return None
        return sum(self.logprobs) / len(self.logprobs)


@dataclass
class Route:
    """Which model answers, and why."""

    model: str
    reason: str = ""
    plugin: str | None = None
    scores: dict[str, float] = field(default_factory=dict)


Label = Literal["supported", "contradicted", "unsupported", "pass", "fail"]


@dataclass
class Verdict:
    """One check of (part of) the answer.

    ``passed`` is what the repair loop looks at; ``label`` says more (entailment verifiers use
    supported / contradicted / unsupported, validators pass / fail).
    """

    verifier: str
    passed: bool
    label: str = "pass"
    claim: str | None = None
    score: float | None = None
    evidence: str | None = None
    document_id: str | None = None
    span: tuple[int, int] | None = None
    message: str = ""


@dataclass
class RepairResult:
    """What a ``repair`` plugin did to the answer."""

    text: str
    action: str
    note: str = ""
    documents: list[Document] | None = None
    """Set when the repair changed the cited documents too."""


@dataclass
class RepairRound:
    """One round of the repair loop: what failed and what was changed."""

    round: int
    plugin: str | None
    action: str
    failed: list[Verdict]
    before: str
    after: str
    note: str = ""


@dataclass
class ModelUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


@dataclass
class Usage:
    """Tokens, calls and latency per model for one run."""

    models: dict[str, ModelUsage] = field(default_factory=dict)

    def record(self, model: str, prompt_tokens: int, completion_tokens: int, latency_s: float) -> None:
        u = self.models.setdefault(model, ModelUsage())
        u.calls += 1
        u.prompt_tokens += prompt_tokens
        u.completion_tokens += completion_tokens
        u.latency_s += latency_s

    @property
    def prompt_tokens(self) -> int:
        return sum(u.prompt_tokens for u in self.models.values())

    @property
    def completion_tokens(self) -> int:
        return sum(u.completion_tokens for u in self.models.values())

    @property
    def calls(self) -> int:
        return sum(u.calls for u in self.models.values())


@dataclass
class TraceEvent:
    """One hook implementation call."""

    hook: str
    plugin: str
    duration_s: float
    status: Literal["ok", "none", "skipped-error", "error"] = "ok"
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)


@dataclass
class Answer:
    """The result of ``Pilot.run``."""

    text: str
    request: Request
    documents: list[Document] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    route: Route | None = None
    repairs: list[RepairRound] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    trace: list[TraceEvent] = field(default_factory=list)
    generation: Generation | None = None
    latency_s: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every verdict passed (or there were none)."""
        return all(v.passed for v in self.verdicts)

    @property
    def failed_verdicts(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def as_messages(question_or_messages: str | Sequence[Message]) -> tuple[str, tuple[Message, ...]]:
    """Normalise user input into (question, messages); the question is the last user turn."""
    from .errors import InputError

    if isinstance(question_or_messages, str):
        question = question_or_messages
        if not question.strip():
            raise InputError("the question is empty")
        return question, ({"role": "user", "content": question},)
    messages = tuple(dict(m) for m in question_or_messages)
    if not messages:
        raise InputError("no messages given")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise InputError(f"message {i} must be a dict with 'role' and 'content', got {m!r}")
        if m["role"] not in ("system", "user", "assistant"):
            raise InputError(f"message {i} has unknown role {m['role']!r} (system, user or assistant)")
    users = [m for m in messages if m["role"] == "user"]
    if not users or not str(users[-1]["content"]).strip():
        raise InputError("the last user message is empty or missing")
    return str(users[-1]["content"]), messages
