"""The ``pilotfish`` command line.

Built-in commands: ``ask``, ``run`` (alias of ask that requires ``--config``), ``chat``,
``plugins``, ``models``. The groups ``eval`` and ``train`` are filled by plugins, and any
installed plugin can add commands through the ``register_commands`` hook.

Exit codes: 0 success, 1 a pilotfish error (message on stderr, no traceback), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from pilotfish.core.build import build_pilot
from pilotfish.core.errors import PilotfishError


class PilotfishGroup(click.Group):
    """Turns pilotfish errors into one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PilotfishError as exc:
            if os.environ.get("PILOTFISH_DEBUG"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=PilotfishGroup)
@click.version_option(package_name="pilotfish")
@click.option("--verbose", "-v", is_flag=True, help="show the libraries' loading bars and warnings")
def cli(verbose: bool) -> None:
    """pilotfish: small models helping large language models."""
    if verbose:
        os.environ["PILOTFISH_VERBOSE"] = "1"


@cli.group(name="eval", cls=PilotfishGroup)
def eval_group() -> None:
    """Evaluate retrieval, verification and other plugins."""


@cli.group(name="train", cls=PilotfishGroup)
def train_group() -> None:
    """Train the small models plugins use."""


def config_option(f: Any) -> Any:
    return click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                        help="pilotfish.toml (default: ./pilotfish.toml or [tool.pilotfish] in ./pyproject.toml)")(f)


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


def print_answer(answer: Any, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(answer_to_json(answer), indent=2, default=str))
        return
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


CORPUS_HELP = ("answer from this folder of .txt/.md documents, or 'bbc' (the packaged BBC News corpus); its index "
               "is built on first use and reused")


def _ask_options(f: Any) -> Any:
    for opt in reversed([
        config_option,
        click.option("--model", "-m", default=None, help="model id (default from config: qwen2.5-1.5b)"),
        click.option("--plugin", "-p", "plugins", multiple=True, help="enable a plugin by name (repeatable)"),
        click.option("--corpus", default=None, help=CORPUS_HELP),
        click.option("--index", "-i", type=click.Path(file_okay=False), default=None, help="answer from this RAG index (built by `pilotfish index`)"),
        click.option("--verify/--no-verify", default=None,
                     help="add the entailment verifier: each claim checked against the passages (default: on with "
                          "--corpus; verifiers a config enables stay on)"),
        click.option("--max-tokens", type=click.IntRange(min=1), default=None),
        click.option("--temperature", type=click.FloatRange(min=0), default=None),
        click.option("--system", default=None, help="system prompt"),
        click.option("--trace", is_flag=True, help="print the hook trace and model usage to stderr"),
        click.option("--json", "as_json", is_flag=True, help="print the answer as JSON"),
    ]):
        f = opt(f)
    return f


def pilot_for_command(config_path: str | None, model: str | None, plugins: tuple[str, ...], corpus: str | None,
                      index: str | None, verify: bool | None) -> Any:
    """The Pilot of ``ask``, ``chat`` and ``serve``: ``--corpus`` builds (once) and opens its index and, unless
    ``--no-verify``, checks the answer claim by claim (``entailment``); its model starts loading at once
    (``PILOTFISH_PRELOAD=0``: on first use)."""
    if corpus is not None:
        if index is not None:
            raise click.UsageError("give --corpus or --index, not both")
        from pilotfish.retrievers.cli import corpus_index

        index = str(corpus_index(corpus))
    extra = list(plugins)
    if (verify or (verify is None and corpus is not None)) and "entailment" not in extra:
        extra.append("entailment")
    pilot = build_pilot(config_path, model, tuple(extra), index=index)
    if os.environ.get("PILOTFISH_PRELOAD", "1") != "0":
        pilot.preload()  # the large model loads (~1 s) while the first question is retrieved
    return pilot


def _ask(question: str, config_path: str | None, model: str | None, plugins: tuple[str, ...], corpus: str | None,
         index: str | None, verify: bool | None, max_tokens: int | None, temperature: float | None, system: str | None,
         trace: bool, as_json: bool) -> None:
    if not question.strip():
        raise click.UsageError("the question is empty")
    pilot = pilot_for_command(config_path, model, plugins, corpus, index, verify)
    answer = pilot.run(question, max_tokens=max_tokens, temperature=temperature, system=system)
    print_answer(answer, as_json)
    if trace:
        print_trace(answer)


@cli.command()
@click.argument("question")
@_ask_options
def ask(**kwargs: Any) -> None:
    """Answer one QUESTION with the configured chain of plugins."""
    _ask(**kwargs)


@cli.command(name="run")
@click.argument("question")
@_ask_options
def run_command(**kwargs: Any) -> None:
    """Run the chain a config file describes on one QUESTION (like ask)."""
    _ask(**kwargs)


def followup_query(history: list[dict[str, str]], question: str) -> str | None:
    """The search query of a follow-up turn: the question with the previous user question before it, so
    "what about his brother?" is searched with the names it refers to (the ``rewrite`` plugin, when
    enabled, writes a standalone query with a model instead)."""
    previous = [m["content"] for m in history if m["role"] == "user"]
    return f"{previous[-1]} {question}" if previous else None


@cli.command()
@config_option
@click.option("--model", "-m", default=None)
@click.option("--plugin", "-p", "plugins", multiple=True)
@click.option("--corpus", default=None, help=CORPUS_HELP)
@click.option("--index", "-i", type=click.Path(file_okay=False), default=None, help="answer from this RAG index")
@click.option("--verify/--no-verify", default=None, help="add the entailment verifier (default: on with --corpus)")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None)
@click.option("--rewrite/--no-rewrite", default=True, show_default=True,
              help="with retrieval, search a follow-up as SmolLM2 rewrites it (the `rewrite` plugin) fused with the "
                   "previous question + the follow-up; off: that rule alone")
@click.option("--trace", is_flag=True)
def chat(config_path: str | None, model: str | None, plugins: tuple[str, ...], corpus: str | None, index: str | None,
         verify: bool | None, max_tokens: int | None, rewrite: bool, trace: bool) -> None:
    """Chat interactively; answers stream as they are generated, then their sources and verdicts. With
    retrieval, a follow-up question is rewritten to stand alone by a small model and searched together with
    the previous one. Empty line or Ctrl-D quits."""
    if rewrite and (corpus or index) and "rewrite" not in plugins:
        from pilotfish.core.manager import installed_plugins

        if "rewrite" in installed_plugins():  # R@3 on follow-ups 0.80 -> 0.90 (docs/prompts.md)
            plugins = (*plugins, "rewrite")
    pilot = pilot_for_command(config_path, model, plugins, corpus, index, verify)
    rewrites = pilot.pm.has_plugin("rewrite")
    history: list[dict[str, str]] = []
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        if not line.strip():
            if interactive:
                break
            continue
        if line.strip() in ("/quit", "/exit"):
            break
        request = pilot.make_request([*history, {"role": "user", "content": line}], max_tokens=max_tokens)
        query = None if rewrites else followup_query(history, line)
        if query is not None:
            request = request.replace(query=query)
        history.append({"role": "user", "content": line})
        click.echo("pilotfish> ", nl=False)
        stream = pilot.stream(request)
        for chunk in stream:
            click.echo(chunk, nl=False)
        click.echo()
        answer = stream.answer
        assert answer is not None
        if answer.repairs:  # the streamed text was changed by the repair loop
            click.echo(f"(repaired: {answer.repairs[-1].action}) {answer.text}")
        if answer.documents:
            click.echo("sources: " + "; ".join(f"[{i}] {d.doc_id}" for i, d in enumerate(answer.documents, 1)))
        print_verdicts(answer, compact=True)
        if trace:
            print_trace(answer)
        history.append({"role": "assistant", "content": answer.text})


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json: bool) -> None:
    """List installed plugins, the hooks each implements and the distribution it comes from."""
    from pilotfish.core.manager import DEFAULT_PLUGINS, hooks_of, installed_plugins

    rows: list[dict[str, Any]] = []
    for name, info in sorted(installed_plugins().items()):
        try:
            obj = info.load()
            hooks = hooks_of(obj)
            error = None
        except PilotfishError as exc:
            hooks, error = [], str(exc)
        rows.append({"name": name, "dist": info.dist, "version": info.version, "value": info.value,
                     "hooks": hooks, "default": name in DEFAULT_PLUGINS, "error": error})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        dist = f"{r['dist']} {r['version'] or ''}".strip()
        flag = " (always on)" if r["default"] else ""
        click.echo(f"{r['name']}{flag}  [{dist}]  {r['value']}")
        click.echo(f"    hooks: {', '.join(r['hooks']) or '-'}")
        if r["error"]:
            click.echo(f"    error: {r['error']}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def models(as_json: bool) -> None:
    """List known model ids and aliases, and whether each is available offline."""
    from pilotfish.core.models import registry

    reg = registry()
    seen = {}
    for spec in reg.models.values():
        seen[spec.id] = spec
    rows: list[dict[str, Any]] = []
    for spec in seen.values():
        try:
            available, error = spec.is_available(), None
        except PilotfishError as exc:  # a broken check is shown as such, not as "not installed"
            available, error = False, str(exc)
        rows.append({"id": spec.id, "aliases": list(spec.aliases), "kind": spec.kind, "available": available,
                     **({"error": error} if error else {}), "description": spec.description, **spec.details})
    schemes = [{"scheme": f"{p}:<...>", "description": s.description} for p, s in reg.schemes.items()]
    trained = trained_models()
    if as_json:
        click.echo(json.dumps({"models": rows, "schemes": schemes, "trained": trained}, indent=2))
        return
    for r in rows:
        aliases = f" (aliases: {', '.join(r['aliases'])})" if r["aliases"] else ""
        state = "available offline" if r["available"] else "check failed" if r.get("error") else "not installed"
        facts = ""
        if r.get("size_mb"):
            facts = (f" [{r['size_mb']} MB, {r['quantization']}, context {r['context_window']}, "
                     f"{r['license']}]")
        click.echo(f"{r['id']:<16} {r['kind']:<10} {state:<18} {r['description']}{facts}{aliases}")
        if r.get("error"):
            click.echo(f"    error: {r['error']}")
    for s in schemes:
        click.echo(f"{s['scheme']:<16} {s['description']}")
    click.echo("\ntrained by pilotfish (in the model cache):")
    for t in trained:
        if not t["exists"]:
            click.echo(f"  {t['name']:<33} not trained ({t['train']})")
            continue
        score = f", {t['score_name']} {t['score']}" if t["score"] is not None else ", no recorded score"
        click.echo(f"  {t['name']:<33} trained {t['trained']}{score}")


TRAINED = (
    # (folder in <cache>/models, its metadata file, the recorded score, the command that trains it)
    ("verifier-minilm", "pilotfish_verifier.json", "synthetic_val_accuracy", "pilotfish train verifier --corpus bbc"),
    ("reranker-minilm", "pilotfish_reranker.json", "loss_last", "pilotfish train reranker --corpus bbc"),
    ("colbert-minilm", "artifact.metadata", None, "pilotfish train colbert --corpus bbc"),
    ("reader-minilm", "pilotfish_reader.json", "val_f1", "pilotfish train reader"),
    ("specialist-bbc-topic", "pilotfish_specialist.json", "val_accuracy", "pilotfish train specialist bbc-topic"),
    ("qwen2.5-small-bbc", "pilotfish_proxy_pair.json", "heldout_ppl_tuned", "pilotfish train proxy-pair"),
    *((f"specialist-tabular-{d}", "pilotfish_specialist.json", "val_accuracy", f"pilotfish train specialist tabular:{d}")
      for d in ("iris", "wine", "breast_cancer")),
)


def trained_models() -> list[dict[str, Any]]:
    """The models pilotfish trains: whether each exists, when it was trained and its recorded score."""
    import datetime

    from pilotfish.models.cache import cache_dir

    out = []
    for name, meta_file, score_key, command in TRAINED:
        meta = cache_dir() / "models" / name / meta_file
        row: dict[str, Any] = {"name": name, "exists": meta.is_file(), "train": command, "trained": None,
                               "score_name": score_key, "score": None}
        if meta.is_file():
            row["trained"] = datetime.datetime.fromtimestamp(meta.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            try:
                data = json.loads(meta.read_text())
            except (OSError, ValueError):
                data = {}
            row["score"] = data.get(score_key) if score_key else None
        out.append(row)
    return out


def load_plugin_commands() -> None:
    from pilotfish.core.manager import discovery_manager

    try:
        discovery_manager().hook.register_commands(cli=cli)
    except PilotfishError as exc:
        click.echo(f"Warning: {exc}", err=True)


def _one_line_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                      line: str | None = None) -> None:
    """Warnings as one line on stderr (no source line) unless ``-v``."""
    click.echo(f"Warning: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    import warnings

    if not os.environ.get("PILOTFISH_VERBOSE") and "-v" not in (argv or sys.argv[1:]) and \
            "--verbose" not in (argv or sys.argv[1:]):
        warnings.showwarning = _one_line_warning
    load_plugin_commands()
    start = time.perf_counter()
    try:
        cli.main(args=argv, prog_name="pilotfish", standalone_mode=True)
    finally:
        if os.environ.get("PILOTFISH_TIMING"):
            click.echo(f"[{time.perf_counter() - start:.2f} s]", err=True)
