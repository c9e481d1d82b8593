"""``ask``, ``run`` and ``chat``: answering questions with the configured chain of plugins."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from pilotfish.core.build import build_pilot

from .group import cli, config_option
from .output import print_answer, print_trace, print_verdicts

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
        click.option("--stream/--no-stream", default=None,
                     help="print the answer's text as it is generated, then its sources and verdicts (default: on "
                          "when the output is a terminal, off with --json)"),
    ]):
        f = opt(f)
    return f


REPAIRS = ("drop-unsupported", "regenerate", "refuse")
"""The packaged repair plugins; ``--corpus`` adds ``drop-unsupported`` when none of them is configured."""


def _has_repair(config_path: str | None, plugins: list[str]) -> bool:
    from pilotfish.core.config import load_config

    return any(r in plugins or r in load_config(config_path).plugins for r in REPAIRS)


def pilot_for_command(config_path: str | None, model: str | None, plugins: tuple[str, ...], corpus: str | None,
                      index: str | None, verify: bool | None) -> Any:
    """The Pilot of ``ask``, ``chat``, ``serve`` and ``eval qa``: ``--corpus`` builds (once) and opens its index,
    points each cited sentence at the passage holding its answer (``recite``; ``PILOTFISH_DISABLE_PLUGINS=recite``
    keeps the model's own markers) and, unless ``--no-verify``, checks the answer claim by claim (``entailment``)
    and drops the sentences that fail (``drop-unsupported``, unless a repair plugin is configured); its model
    starts loading at once (``PILOTFISH_PRELOAD=0``: on first use)."""
    if corpus is not None:
        if index is not None:
            raise click.UsageError("give --corpus or --index, not both")
        from pilotfish.retrievers.cli import corpus_index

        index = str(corpus_index(corpus))
    extra = list(plugins)
    if corpus is not None and "recite" not in extra:
        from pilotfish.core.manager import installed_plugins

        if "recite" in installed_plugins():  # not when PILOTFISH_DISABLE_PLUGINS names it
            extra.append("recite")
    if (verify or (verify is None and corpus is not None)) and "entailment" not in extra:
        extra.append("entailment")
        if corpus is not None and not _has_repair(config_path, extra):
            # sentences the verifier rejects are dropped (an answer with none left becomes a refusal)
            extra.append("drop-unsupported")
    pilot = build_pilot(config_path, model, tuple(extra), index=index)
    if os.environ.get("PILOTFISH_PRELOAD", "1") != "0":
        pilot.preload()  # the large model loads (~1 s) while the first question is retrieved
    return pilot


def _ask(question: str, config_path: str | None, model: str | None, plugins: tuple[str, ...], corpus: str | None,
         index: str | None, verify: bool | None, max_tokens: int | None, temperature: float | None, system: str | None,
         trace: bool, as_json: bool, stream: bool | None) -> None:
    if not question.strip():
        raise click.UsageError("the question is empty")
    if stream and as_json:
        raise click.UsageError("give --stream or --json, not both (JSON is printed once the answer is complete)")
    if stream is None:
        stream = not as_json and sys.stdout.isatty()
    pilot = pilot_for_command(config_path, model, plugins, corpus, index, verify)
    params = {"max_tokens": max_tokens, "temperature": temperature, "system": system}
    if stream:
        answer = stream_answer(pilot, question, params)
    else:
        answer = pilot.run(question, **params)
    print_answer(answer, as_json, text_shown=stream)
    if trace:
        print_trace(answer)


def stream_answer(pilot: Any, question: Any, params: dict[str, Any]) -> Any:
    """Echo the answer's chunks as the model makes them (the first token shows after the prefill, not after the
    whole answer and its verification); returns the finished :class:`Answer`. A final text other than the
    streamed one (a repair changed it) is shown after it."""
    stream = pilot.stream(question, **params)
    streamed = []
    for chunk in stream:
        streamed.append(chunk)
        click.echo(chunk, nl=False)
    click.echo()
    answer = stream.answer
    assert answer is not None
    if "".join(streamed).strip() != answer.text.strip():  # a repair (or an escalating cascade) changed it
        why = f"repaired: {answer.repairs[-1].action}" if answer.repairs else "final answer"
        click.echo(f"({why}) {answer.text}")
    return answer


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
