"""``pilotfish eval qa``: end-to-end RAG on a QA file (registered through ``register_commands``,
entry point ``qa-commands``)."""

from __future__ import annotations

import json
import os
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
                  help="write one JSON line per question (answer, correctness, citations, tokens, model), each as "
                       "soon as it is answered")
    @click.option("--resume", is_flag=True, help="keep the questions already in --records (by id, else question) "
                  "and answer only the rest; the report covers them all")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout")
    def eval_qa(corpus: str | None, index: str | None, queries: str, config_path: str | None, model: str | None,
                plugins: tuple[str, ...], verify: bool | None, limit: int | None, max_tokens: int | None,
                records: str | None, resume: bool, as_json: bool) -> None:
        """Answer accuracy, citation precision, unanswerable refused, latency p50/p95, prompt tokens, and
        tokens per answer by model, for the configured pilot (retrieve, generate, verify)."""
        from .qa import (
            evaluate_qa,
            format_report,
            load_qa,
            print_progress,
            read_records,
            record_key,
            summarize,
        )

        if corpus is None and index is None:
            raise click.UsageError("give --corpus DIR|bbc or --index DIR")
        if resume and not records:
            raise click.UsageError("--resume needs --records FILE")
        rows = load_qa(queries)[:limit]
        done = read_records(records) if resume and records and os.path.exists(records) else []
        keys = {record_key(r) for r in done}
        todo = [r for r in rows if record_key(r) not in keys]
        if verify is None:
            verify = True
        out = open(records, "a" if resume else "w", encoding="utf-8") if records else None  # noqa: SIM115

        def progress(i: int, n: int, rec: dict[str, Any]) -> None:
            print_progress(i, n, rec)
            if out is not None:
                out.write(json.dumps(rec) + "\n")
                out.flush()

        try:
            if todo:
                pilot = pilot_for_command(config_path, model, plugins, corpus, index, verify)
                kwargs: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
                _, recs = evaluate_qa(pilot, todo, progress=progress, **kwargs)
            else:
                recs = []
        finally:
            if out is not None:
                out.close()
        wanted = {record_key(r) for r in rows}
        report = summarize([r for r in done if record_key(r) in wanted] + recs)
        if done:
            click.echo(f"{len(rows) - len(todo)} questions kept from {records}, {len(todo)} answered now", err=True)
        if as_json:
            click.echo(json.dumps(report))
        else:
            click.echo(format_report(report))
