"""The ``bertscore`` verifier: the answer against a reference answer given with the request.

The reference is read from ``request.metadata[reference_key]`` (default ``"reference"``);
without one the verifier returns nothing. The answer passes when BERTScore F1 (see
:func:`pilotfish.eval.bertscore`) reaches ``threshold``.
"""

from __future__ import annotations

from pydantic import Field

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Request, Verdict

from .claims import strip_citations


class BERTScoreOptions(PluginOptions):
    model: str = "minilm"
    threshold: float = Field(0.6, ge=-1.0, le=1.0)
    reference_key: str = "reference"
    idf: bool = False
    rescale_with_baseline: bool = False


class BERTScoreVerifier(Plugin):
    name = "bertscore"
    Options = BERTScoreOptions

    @hookimpl
    def verify(self, request: Request, text: str) -> list[Verdict] | None:
        o = self.options
        reference = request.metadata.get(o.reference_key)
        if not reference:
            return None
        from pilotfish.eval import bertscore

        clean = strip_citations(text or "")[0]
        if not clean.strip():
            return [Verdict(self.name, False, "fail", score=0.0, message="the answer is empty")]
        s = bertscore([clean], [str(reference)], o.model, idf=o.idf, rescale_with_baseline=o.rescale_with_baseline)
        f1 = s.f1[0]
        return [Verdict(self.name, f1 >= o.threshold, "pass" if f1 >= o.threshold else "fail", score=f1,
                        evidence=str(reference),
                        message=f"BERTScore P={s.precision[0]:.3f} R={s.recall[0]:.3f} F1={f1:.3f} ({o.model})")]
