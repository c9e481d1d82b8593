"""How the commands print an answer: its text, sources, verdicts, trace, or JSON."""

from __future__ import annotations

import json
from typing import Any

import click


def print_trace(answer: Any) -> None:
    click.echo("\ntrace:", err=True)
    for ev in answer.trace:
        extra = f"  {ev.error}" if ev.error else ""
        click.echo(f"  {ev.hook:<16} {ev.plugin:<24} {ev.duration_s * 1000:9.2f} ms  {ev.status}{extra}", err=True)
    route = answer.route
    if route is not None and route.plugin:
        click.echo(f"  route ({route.plugin}): {route.model}" + (f" - {route.reason}" if route.reason else ""), err=True)
    rewrite = answer.request.metadata.get("rewrite")
    if rewrite:
        click.echo(f"  rewrite ({rewrite['model']}, {rewrite['mode']}): searched {answer.request.search_query!r}"
                   + "".join(f" + {q!r}" for q in answer.request.queries), err=True)
    if answer.metadata.get("compression"):
        c = answer.metadata["compression"]
        click.echo(f"  compression ({c['plugin']}): {c['tokens_before']} -> {c['tokens_after']} passage tokens "
                   f"({c['ratio']}x)", err=True)
    for model, u in answer.usage.models.items():
        click.echo(
            f"  model {model}: {u.calls} call(s), {u.prompt_tokens} prompt + {u.completion_tokens} completion tokens, "
            f"{u.latency_s:.2f} s",
            err=True,
        )
    for model, s in answer.usage.speculative.items():
        click.echo(f"  speculative {model} (draft {s.draft}): acceptance {s.acceptance_rate:.2f}, "
                   f"{s.target_passes} target passes for {s.tokens} tokens, {s.tokens_per_s:.1f} tokens/s", err=True)


def print_answer(answer: Any, as_json: bool = False, text_shown: bool = False) -> None:
    """The answer, its sources and verdicts (``text_shown``: the text was streamed already)."""
    if as_json:
        click.echo(json.dumps(answer_to_json(answer), indent=2, default=str))
        return
    if not text_shown:
        click.echo(answer.text)
    if answer.documents:
        click.echo("\nsources:")
        for i, doc in enumerate(answer.documents, start=1):
            title = f" {doc.title}" if doc.title else ""
            click.echo(f"  [{i}] {doc.id}{title}")
    print_verdicts(answer)


def print_verdicts(answer: Any, compact: bool = False) -> None:
    """Each claim with its verdict (or one line in ``compact`` form, as ``chat`` shows it)."""
    for r in answer.repairs:
        click.echo(f"repair round {r.round}: {r.action} by {r.plugin}" + (f" ({r.note})" if r.note else ""))
    if answer.refused and not answer.verdicts:
        click.echo("\nverification: the answer is a refusal (nothing to verify)" if not compact else "(refusal)")
        return
    if not answer.verdicts:
        return
    failed = answer.failed_verdicts
    if compact:
        marks = " ".join(("ok" if v.passed else v.label) for v in answer.verdicts)
        click.echo(f"verified: {len(answer.verdicts) - len(failed)}/{len(answer.verdicts)} claims passed ({marks})")
        return
    click.echo(f"\nverification: {len(answer.verdicts) - len(failed)}/{len(answer.verdicts)} passed")
    for v in answer.verdicts:
        mark = "PASS" if v.passed else "FAIL"
        score = f" {v.score:.2f}" if v.score is not None else ""
        click.echo(f"  {mark} [{v.label}{score}] {v.claim or v.message} ({v.verifier})")


def answer_to_json(answer: Any) -> dict[str, Any]:
    return {
        "text": answer.text,
        "route": answer.route.model if answer.route else None,
        "route_decision": ({"plugin": answer.route.plugin, "reason": answer.route.reason, "scores": answer.route.scores}
                           if answer.route else None),
        "documents": [{"id": d.id, "doc_id": d.doc_id, "title": d.title, "score": d.score, "text": d.text} for d in answer.documents],
        "verdicts": [{"verifier": v.verifier, "passed": v.passed, "label": v.label, "claim": v.claim, "score": v.score,
                      "evidence": v.evidence, "document_id": v.document_id} for v in answer.verdicts],
        "repairs": [{"round": r.round, "plugin": r.plugin, "action": r.action, "before": r.before, "after": r.after} for r in answer.repairs],
        "refused": answer.refused,
        "usage": {m: vars(u) for m, u in answer.usage.models.items()},
        "latency_s": answer.latency_s,
    }
