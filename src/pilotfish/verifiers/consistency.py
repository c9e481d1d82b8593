"""The ``consistency`` verifier (SelfCheckGPT): a claim the model believes in comes back when
the model is asked again; a hallucinated one does not.

The routed model answers the same messages ``samples`` more times with temperature; each claim
of the answer is scored by how consistently the samples support it:

- ``method = "nli"`` (SelfCheckGPT-NLI): P(entailment) of the claim given each sample, with
  the trained verifier (or any NLI checkpoint), averaged over samples;
- ``method = "similarity"``: the best cosine similarity of the claim to a sentence of each
  sample (MiniLM embeddings), averaged over samples.

The claim passes when its score reaches ``threshold``. Needs no retrieved context, so it also
covers closed-book answers; it costs ``samples`` extra generations per answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request, Verdict

from .claims import split_claims, split_sentences, strip_citations


class ConsistencyOptions(PluginOptions):
    samples: int = Field(3, ge=1, le=20)
    temperature: float = Field(0.8, gt=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1)
    """Tokens per sample (default: the request's max_tokens)."""
    method: Literal["nli", "similarity"] = "similarity"
    model: str = ""
    """NLI checkpoint for method "nli" (default: the trained verifier); embedder id for "similarity" (default minilm)."""
    threshold: float = Field(0.6, ge=0.0, le=1.0)
    seed: int = 0


class ConsistencyVerifier(Plugin):
    name = "consistency"
    Options = ConsistencyOptions

    def sample(self, request: Request, documents: list[Document], pilot: Any) -> list[str]:
        o = self.options
        messages = pilot.hooks.build_messages(request, documents, pilot)
        model = pilot.model_for(request)
        params = dict(request.params)
        params.update(temperature=o.temperature, max_tokens=o.max_tokens or params.get("max_tokens", 256))
        out = []
        for i in range(o.samples):
            req = request.replace(params={**params, "seed": o.seed + i})
            gen = pilot.hooks.generate(req, messages, model, None, pilot)
            out.append(strip_citations(getattr(gen, "text", "") or "")[0])
        return out

    def score(self, claims: list[str], samples: list[str]) -> list[float]:
        import numpy as np

        o = self.options
        if not claims:
            return []
        if o.method == "nli":
            from .nli import ENTAILMENT, load_nli

            nli = load_nli(o.model or None)
            prem = [s for s in samples for _ in claims]
            hyp = [c for _ in samples for c in claims]
            probs = nli.predict(prem, hyp)[:, ENTAILMENT].reshape(len(samples), len(claims))
            return [float(x) for x in probs.mean(axis=0)]
        from pilotfish.core.models import get_model

        embedder = get_model(o.model or "minilm")
        claim_vecs = np.asarray(embedder.embed(claims))
        scores = np.zeros(len(claims))
        for s in samples:
            sents = [s[a:b] for a, b in split_sentences(s)] or [s or " "]
            vecs = np.asarray(embedder.embed(sents))
            scores += (claim_vecs @ vecs.T).max(axis=1).clip(0, 1)
        return [float(x) for x in scores / max(1, len(samples))]

    @hookimpl
    def verify(self, request: Request, text: str, documents: list[Document], pilot: Any) -> list[Verdict]:
        claims = split_claims(text or "")
        if not claims:
            return [Verdict(self.name, False, "unsupported", claim=text or "", score=0.0,
                            message="the answer is empty: nothing to verify")]
        samples = self.sample(request, documents, pilot)
        scores = self.score([c.text for c in claims], samples)
        o = self.options
        return [
            Verdict(self.name, s >= o.threshold, "supported" if s >= o.threshold else "unsupported", claim=c.text,
                    score=s, span=c.span, message=f"consistency {s:.2f} over {len(samples)} samples ({o.method})")
            for c, s in zip(claims, scores, strict=False)
        ]
