"""``pilotfish eval qa``: end-to-end RAG on a QA file (registered through ``register_commands``,
entry point ``qa-commands``)."""

from __future__ import annotations

import json
from typing import Any

import click

from pilotfish.core.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    from pilotfish.cli import config_option, pilot_for_command

    eval_group = cli.commands["eval"]

    @eval_group.command(name="qa")
    @click.option("--corpus", default=None, help="answer from this folder of .txt/.md files, or 'bbc' (its index "
                  "is built on first use and reused)")
    @click.option("--index", "-i", "index", default=None, type=click.Path(file_okay=False), help="a RAG index")
    @click.option("--queries", required=True, type=click.Path(dir_okay=False),
                  help="JSONL: question, answer (empty: unanswerable), doc_id, evidence[, id, kind]")
    @config_option
    @click.option("--model", "-m", default=None, help="model id (default from config: qwen2.5-1.5b)")
    @click.option("--plugin", "-p", "plugins", multiple=True, help="enable a plugin by name, as in ask (repeatable)")
    @click.option("--verify/--no-verify", default=None, help="the entailment verifier, as in ask (default: on)")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="the first N questions only")
    @click.option("--max-tokens", type=click.IntRange(min=1), default=None)
    @click.option("--records", type=click.Path(dir_okay=False), default=None,
                  help="write one JSON line per question (answer, correctness, citations, tokens, model)")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout")
    def eval_qa(corpus: str | None, index: str | None, queries: str, config_path: str | None, model: str | None,
                plugins: tuple[str, ...], verify: bool | None, limit: int | None, max_tokens: int | None,
                records: str | None, as_json: bool) -> None:
        """Answer accuracy, citation precision, unanswerable refused, latency p50/p95, prompt tokens, and
        tokens per answer by model, for the configured pilot (retrieve, generate, verify)."""
        from .qa import evaluate_qa, format_report, load_qa, print_progress

        if corpus is None and index is None:
            raise click.UsageError("give --corpus DIR|bbc or --index DIR")
        rows = load_qa(queries)[:limit]
        if verify is None:
            verify = True
        pilot = pilot_for_command(config_path, model, plugins, corpus, index, verify)
        kwargs = {"max_tokens": max_tokens} if max_tokens else {}
        report, recs = evaluate_qa(pilot, rows, progress=print_progress, **kwargs)
        if records:
            with open(records, "w", encoding="utf-8") as f:
                for r in recs:
                    f.write(json.dumps(r) + "\n")
        if as_json:
            click.echo(json.dumps(report))
        else:
            click.echo(format_report(report))
