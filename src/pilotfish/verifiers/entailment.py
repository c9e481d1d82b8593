"""The ``entailment`` verifier: every claim of the answer checked against the retrieved passages.

Each sentence of the answer (citations stripped) becomes a claim; a cross-encoder NLI model
scores it against the passages (windowed, batched; see :mod:`pilotfish.verifiers.scoring`)
and the verifier returns one :class:`~pilotfish.Verdict` per claim: label ``supported`` /
``contradicted`` / ``unsupported``, ``score`` = P(supported), the evidence sentence and the id
of the passage it comes from. Only ``supported`` claims pass.

Config::

    [pilotfish.plugin.entailment]
    model = ""            # hub id or path of an NLI checkpoint; "" = the one `pilotfish train verifier` wrote
    threshold = 0.5       # P(entailment) at or above which a claim is supported
    head = true           # use the calibrated head next to the checkpoint (pilotfish_head.json), if any
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request, Verdict

from .claims import split_claims
from .nli import load_nli
from .scoring import score_claims


class EntailmentOptions(PluginOptions):
    model: str = ""
    """Hub id or local path of a sequence-classification NLI checkpoint; empty: the trained default."""
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_windows: int = Field(4, ge=1)
    """Windows (passage pieces) each claim is scored against, the most overlapping first."""
    max_length: int = Field(256, ge=32, le=4096)
    batch_size: int = Field(32, ge=1)
    head: bool = True
    """Use the calibrated head stored next to the checkpoint (``pilotfish_head.json``) when there is one."""
    use_request_context: bool = True
    """Also check against ``request.context`` (knowledge text a before_prompt plugin added)."""


class EntailmentVerifier(Plugin):
    """Claim-level entailment check of the answer against the retrieved passages."""

    name = "entailment"
    Options = EntailmentOptions

    def nli(self) -> Any:
        o = self.options
        return load_nli(o.model or None, max_length=o.max_length, batch_size=o.batch_size, head=o.head)

    def check(self, text: str, documents: list[Document], context: tuple[str, ...] = ()) -> list[Verdict]:
        """Verdicts for ``text`` against ``documents`` (usable without a Pilot)."""
        o = self.options
        claims = split_claims(text or "")
        if not claims:
            return [Verdict(self.name, False, "unsupported", claim=text or "", score=0.0,
                            message="the answer is empty: nothing to verify")]
        passages: list[Any] = list(documents)
        if o.use_request_context:
            passages += [Document(id=f"context:{i}", text=t) for i, t in enumerate(context) if t.strip()]
        if not passages:
            return [Verdict(self.name, False, "unsupported", claim=c.text, score=0.0, span=c.span,
                            message="no retrieved context to check the claim against") for c in claims]
        scores = score_claims(self.nli(), [c.text for c in claims], passages, threshold=o.threshold,
                              max_windows=o.max_windows)
        verdicts = []
        for claim, s in zip(claims, scores, strict=False):
            doc = passages[s.doc_index] if s.doc_index is not None else None
            verdicts.append(Verdict(
                verifier=self.name, passed=s.label == "supported", label=s.label, claim=claim.text,
                score=s.p_supported, evidence=s.evidence, document_id=doc.id if doc else None, span=claim.span,
                message=f"P(supported)={s.p_supported:.2f} P(contradicted)={s.p_contradicted:.2f}",
            ))
        return verdicts

    @hookimpl
    def verify(self, request: Request, text: str, documents: list[Document]) -> list[Verdict]:
        return self.check(text, documents, request.context)

    @staticmethod
    @hookimpl
    def register_commands(cli: Any) -> None:
        from .commands import register

        register(cli)
