"""Repair plugins (``repair`` hook): what to do with an answer that failed verification.

- ``drop-unsupported``: remove the sentences whose claims failed (contradicted or unsupported)
  and keep the rest, citations included; when nothing is left, refuse.
- ``regenerate``: ask the routed model again, naming the failing claims and quoting the
  evidence the verifier found; on the last allowed round it can fall back to dropping or
  refusing (option ``fallback``), so the loop always ends with something honest.
- ``refuse``: replace the answer by an honest "the sources do not support an answer".

The host runs at most ``max_repair_rounds`` rounds and records each one (what failed, the text
before and after) in ``Answer.repairs``. Only claim-level verdicts (those with a ``claim``
and a ``span`` into the answer) are used to drop sentences; validator failures without a span
(e.g. a JSON schema) are left to ``regenerate`` or ``refuse``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, RepairResult, Request, Verdict

REFUSAL = "The sources do not support an answer to this question."


def _failed(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.passed]


def drop_failed_sentences(text: str, verdicts: list[Verdict]) -> tuple[str, list[Verdict]]:
    """``text`` without the spans of failed claim verdicts; returns (new text, dropped verdicts)."""
    spans = sorted({v.span for v in _failed(verdicts) if v.span is not None and v.claim})
    if not spans:
        return text, []
    pieces, last = [], 0
    for a, b in spans:
        if a < last:
            continue
        pieces.append(text[last:a])
        last = b
    pieces.append(text[last:])
    new = " ".join(" ".join(p.split()) for p in pieces if p.strip())
    dropped = [v for v in _failed(verdicts) if v.span in spans]
    return new.strip(), dropped


class RefuseOptions(PluginOptions):
    message: str = REFUSAL


class Refuse(Plugin):
    """Replace a failing answer by an honest refusal."""

    name = "refuse"
    Options = RefuseOptions

    @hookimpl(trylast=True)
    def repair(self, verdicts: list[Verdict]) -> RepairResult | None:
        failed = _failed(verdicts)
        if not failed:
            return None
        return RepairResult(self.options.message, "refuse", note=f"{len(failed)} check(s) failed")


class DropOptions(PluginOptions):
    refusal: str = REFUSAL
    """Said when every claim failed."""


class DropUnsupported(Plugin):
    """Remove the failing claims, keep the rest of the answer and its citations."""

    name = "drop-unsupported"
    Options = DropOptions

    @hookimpl
    def repair(self, text: str, verdicts: list[Verdict]) -> RepairResult | None:
        new, dropped = drop_failed_sentences(text, verdicts)
        if not dropped:
            return None
        claims = "; ".join(f"[{v.label}] {v.claim}" for v in dropped)
        if not new.strip():
            return RepairResult(self.options.refusal, "refuse", note=f"every claim failed: {claims}")
        return RepairResult(new, "drop", note=f"dropped {len(dropped)} claim(s): {claims}")


class RegenerateOptions(PluginOptions):
    fallback: Literal["refuse", "drop", "none"] = "refuse"
    """What the last allowed round does instead of regenerating ("none": regenerate anyway)."""
    max_claims: int = Field(5, ge=1)
    """How many failing claims the feedback names."""
    refusal: str = REFUSAL


def feedback_message(previous: str, failed: list[Verdict], max_claims: int = 5) -> str:
    lines = ["Your previous answer was:", previous.strip(), "",
             "The following statements are not supported by the sources:"]
    for v in failed[:max_claims]:
        what = v.claim or v.message
        why = "contradicted by" if v.label == "contradicted" else "closest source text"
        evidence = f' ({why}: "{v.evidence}")' if v.evidence else (f" ({v.message})" if v.message and v.claim else "")
        lines.append(f"- {what}{evidence}")
    lines += ["", "Write the answer again using only facts stated in the sources, citing them like [1]. "
              "Leave out anything the sources do not say. If they do not contain the answer, say so."]
    return "\n".join(lines)


class Regenerate(Plugin):
    """Ask the routed model again with the failing claims named and the evidence quoted."""

    name = "regenerate"
    Options = RegenerateOptions

    @hookimpl
    def repair(self, request: Request, text: str, verdicts: list[Verdict], documents: list[Document], round: int,
               pilot: Any) -> RepairResult | None:
        failed = _failed(verdicts)
        if not failed:
            return None
        o = self.options
        last_round = round >= getattr(pilot, "max_repair_rounds", 1)
        if last_round and round > 1 and o.fallback != "none":
            if o.fallback == "drop":
                new, dropped = drop_failed_sentences(text, verdicts)
                if dropped and new.strip():
                    return RepairResult(new, "drop", note=f"last round: dropped {len(dropped)} claim(s)")
            return RepairResult(o.refusal, "refuse", note=f"last round: {len(failed)} check(s) still failed")
        messages = list(pilot.hooks.build_messages(request, documents, pilot))
        messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": feedback_message(text, failed, o.max_claims)})
        model = pilot.model_for(request)
        generation = pilot.hooks.generate(request, messages, model, None, pilot)
        new = (getattr(generation, "text", "") or "").strip()
        if not new:
            return RepairResult(o.refusal, "refuse", note="the model returned nothing when asked again")
        named = "; ".join(v.claim or v.message for v in failed[: o.max_claims])
        return RepairResult(new, "regenerate", note=f"asked again about: {named}")
