"""The ``entailment`` verifier: every claim of the answer checked against the retrieved passages.

Each sentence of the answer (citations stripped) becomes a claim, and the verifier returns one
:class:`~pilotfish.Verdict` per claim with ``score`` = P(supported). Only ``supported`` claims pass.
Two kinds of judge:

- a cross-encoder NLI model scores the claim against the passages (windowed, batched; see
  :mod:`pilotfish.verifiers.scoring`): label ``supported`` / ``contradicted`` / ``unsupported``, the
  evidence sentence and the id of the passage it comes from; 40 claims/s;
- a causal LM (``model = "qwen2.5-1.5b"``) answers "is this claim supported by the sources?" and its
  P(yes) against P(no) is the score (:mod:`pilotfish.core.judge`): labels ``supported`` /
  ``unsupported``, the passage the claim cites as evidence; ~1 s a claim on llama.cpp.

``model = "auto"`` (the default) uses the NLI verifier ``pilotfish train verifier`` wrote when it exists
and recorded a held-out accuracy of at least 0.7, and otherwise the large model, so the verifier works
right after install.

Config::

    [pilotfish.plugin.entailment]
    model = "auto"        # or a causal LM id (judge), "" (the trained verifier), an NLI checkpoint id/path
    threshold = 0.5       # P(supported) at or above which a claim is supported
    head = true           # use the calibrated head next to the checkpoint (pilotfish_head.json), if any
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.judge import LLMJudge
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request, Verdict

from .claims import split_claims
from .nli import QUALITY_FLOOR, load_nli, trained_verifier_score
from .scoring import score_claims

JUDGE_DEFAULT = "qwen2.5-1.5b"


class EntailmentOptions(PluginOptions):
    model: str = "auto"
    """``auto``: the trained verifier when it passes its quality floor, else the large model as judge; a
    causal LM id judges by yes/no log-probs; ``""`` is the trained verifier (an error when missing or below
    its floor); anything else is a hub id or local path of a sequence-classification NLI checkpoint."""
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_windows: int = Field(4, ge=1)
    """Windows (passage pieces) each claim is scored against, the most overlapping first."""
    max_length: int = Field(256, ge=32, le=4096)
    batch_size: int = Field(32, ge=1)
    head: bool = True
    """Use the calibrated head stored next to the checkpoint (``pilotfish_head.json``) when there is one."""
    use_request_context: bool = True
    """Also check against ``request.context`` (knowledge text a before_prompt plugin added)."""


def is_causal_lm(model: str) -> bool:
    """Whether ``model`` names a registered causal LM (packaged id or alias, ``gguf:``, ``hf:``, ``truncate:``)."""
    if model.startswith(("gguf:", "hf:", "truncate:")):
        return True
    from pilotfish.core.models import registry

    spec = registry().models.get(model)
    return spec is not None and spec.kind == "causal-lm" and spec.id != "fake"


class EntailmentVerifier(Plugin):
    """Claim-level entailment check of the answer against the retrieved passages."""

    name = "entailment"
    Options = EntailmentOptions

    def judge_model(self) -> str | None:
        """The causal LM that judges, or None when an NLI model does."""
        model = self.options.model
        if model == "auto":
            score = trained_verifier_score()
            return None if score is not None and score >= QUALITY_FLOOR else JUDGE_DEFAULT
        return model if is_causal_lm(model) else None

    def nli(self) -> Any:
        o = self.options
        model = None if o.model == "auto" else o.model
        return load_nli(model or None, max_length=o.max_length, batch_size=o.batch_size, head=o.head)

    def check(self, text: str, documents: list[Document], context: tuple[str, ...] = (),
              request: Request | None = None) -> list[Verdict]:
        """Verdicts for ``text`` against ``documents`` (usable without a Pilot; a judge LM builds its prompt
        from ``request`` so that it shares the answer's prompt prefix)."""
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
        judge = self.judge_model()
        if judge is not None:
            return self.judge(judge, request or Request(question="", context=context), claims, list(documents))
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
        return self.check(text, documents, request.context, request)

    def judge(self, model_id: str, request: Request, claims: list[Any], passages: list[Any]) -> list[Verdict]:
        from pilotfish.core.models import get_model

        lm = get_model(model_id)
        judge = LLMJudge(lm)
        # the judge sees the sources as the answer did (same prompt prefix, same order: [n] is the same passage)
        scores = judge.p_supported(request, passages, [c.text for c in claims])
        verdicts = []
        for claim, p in zip(claims, scores, strict=True):
            cited = [passages[i - 1] for i in claim.citations if 0 < i <= len(passages)]
            doc = cited[0] if cited else None
            supported = p >= self.options.threshold
            verdicts.append(Verdict(
                verifier=self.name, passed=supported, label="supported" if supported else "unsupported",
                claim=claim.text, score=p, evidence=doc.text if doc else None, document_id=doc.id if doc else None,
                span=claim.span, message=f"P(supported)={p:.2f} (judged by {lm.model_id})",
            ))
        return verdicts

    @staticmethod
    @hookimpl
    def register_commands(cli: Any) -> None:
        from .commands import register

        register(cli)
