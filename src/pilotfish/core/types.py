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
    queries: tuple[str, ...] = ()
    """More search queries (multi-query rewriting, HyDE): each is retrieved like ``query`` and all the
    lists are fused."""
    examples: tuple[Any, ...] = ()
    """Few-shot examples chosen by an example selector (put in the prompt by ``build_messages``)."""
    context: tuple[str, ...] = ()
    """Extra knowledge text added to the prompt (e.g. by a domain guide)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Generation parameters: ``max_tokens``, ``temperature``, ``top_p``, ``stop``, ``seed``."""
    metadata: dict[str, Any] = field(default_factory=dict)
    documents: tuple[Document, ...] = ()
    """The passages the prompt shows (set by the host after retrieval and compression), so a ``generate``
    strategy (a cascade that verifies, a drafter that copies from the sources) can read them."""

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
class SpeculativeUsage:
    """What speculative decoding did for one target model in a run."""

    draft: str = ""
    drafted: int = 0
    accepted: int = 0
    target_passes: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def acceptance_rate(self) -> float:
        """Accepted / drafted tokens."""
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_pass(self) -> float:
        return self.tokens / self.target_passes if self.target_passes else 0.0


@dataclass
class Usage:
    """Tokens, calls and latency per model for one run."""

    models: dict[str, ModelUsage] = field(default_factory=dict)
    speculative: dict[str, SpeculativeUsage] = field(default_factory=dict)
    """Per target model: drafts, acceptance, target passes and tokens/s of speculative decoding."""

    def record_speculative(self, model: str, draft: str, drafted: int, accepted: int, passes: int, tokens: int,
                           seconds: float) -> None:
        u = self.speculative.setdefault(model, SpeculativeUsage(draft=draft))
        u.drafted += drafted
        u.accepted += accepted
        u.target_passes += passes
        u.tokens += tokens
        u.seconds += seconds

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
    metadata: dict[str, Any] = field(default_factory=dict)
    """What the host measured on the way, e.g. ``compression`` (prompt tokens before and after)."""
    refused: bool = False
    """The answer declines to answer (the model said the sources lack it, or a repair refused): a
    refusal is final, so it carries no verdicts and is not repaired."""

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


def _plain_float(value: Any) -> float | None:
    """Plugins may hand back numpy scalars; JSON wants plain floats."""
    return None if value is None else float(value)


def answer_payload(answer: Any) -> dict[str, Any]:
    """pilotfish's extra fields of a response: citations, verdicts, route, repairs, usage, trace.

    Plain JSON types only (numpy scores are converted), so it can be sent as is.
    """
    route = answer.route
    return {
        "text": answer.text,
        "route": {"model": route.model, "reason": route.reason, "plugin": route.plugin} if route else None,
        "citations": [
            {"index": i, "id": d.id, "doc_id": d.doc_id, "title": d.title, "text": d.text, "score": _plain_float(d.score),
             "retriever": d.retriever}
            for i, d in enumerate(answer.documents, start=1)
        ],
        "verdicts": [
            {"verifier": v.verifier, "passed": bool(v.passed), "label": v.label, "claim": v.claim, "score": _plain_float(v.score),
             "evidence": v.evidence, "document_id": v.document_id, "span": [int(x) for x in v.span] if v.span else None,
             "message": v.message}
            for v in answer.verdicts
        ],
        "passed": bool(answer.passed),
        "refused": bool(answer.refused),
        "repairs": [
            {"round": r.round, "plugin": r.plugin, "action": r.action, "before": r.before, "after": r.after, "note": r.note}
            for r in answer.repairs
        ],
        "usage": {m: {"calls": u.calls, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                      "latency_s": round(u.latency_s, 4)} for m, u in answer.usage.models.items()},
        "trace": [{"hook": e.hook, "plugin": e.plugin, "duration_s": round(e.duration_s, 6), "status": e.status}
                  for e in answer.trace],
        "latency_s": round(answer.latency_s, 4),
    }
