"""CLI commands of the data tools: ``synthesize``, ``curate``, ``distill``, ``weak-to-strong``,
``train proxy-pair`` (:mod:`.proxy_cli`).

Registered through the ``register_commands`` hook (entry point ``data-tools``), like a
third-party plugin would add commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pilotfish.core.errors import InputError
from pilotfish.core.hookspecs import hookimpl


def _labels(value: str | None) -> list[str]:
    if not value:
        raise click.UsageError("--labels is required (comma-separated, e.g. --labels business,sports,tech)")
    return [x.strip() for x in value.split(",") if x.strip()]


def _set_options(values: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``--set perplexity.model=gemma3-270m`` -> ``{"perplexity": {"model": "gemma3-270m"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        plugin, dot, opt = key.partition(".")
        if not sep or not dot or not plugin or not opt:
            raise click.UsageError(f"--set expects PLUGIN.OPTION=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(plugin, {})[opt] = value
    return out


def _report(report: Any) -> None:
    click.echo(report.summary(), err=True)
    for s in report.unparseable_samples:
        click.echo(f"  unparseable: {s!r}", err=True)


_engine_options = [
    click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
                 help="run shards locally or over a Ray Data dataset"),
    click.option("--shard-size", type=click.IntRange(min=1), default=64, help="records per shard"),
    click.option("--state-dir", type=click.Path(file_okay=False), default=None,
                 help="keep finished shards here; a rerun resumes after the last completed shard"),
    click.option("--ray-address", default=None, help="Ray cluster address (default: a local Ray)"),
]


def _with_engine(f: Any) -> Any:
    for opt in reversed(_engine_options):
        f = opt(f)
    return f


def _run_job(job: dict[str, Any], records: list[dict[str, Any]], engine: str, shard_size: int,
             state_dir: str | None, ray_address: str | None) -> Any:
    from .engine import run_job

    return run_job(job, records, engine=engine, shard_size=shard_size, state_dir=state_dir, ray_address=ray_address)


@hookimpl
def register_commands(cli: Any) -> None:
    train = cli.commands.get("train")
    if train is not None and "proxy-pair" not in train.commands:
        from .proxy_cli import train_proxy_pair_command

        train.add_command(train_proxy_pair_command)

    @cli.group(name="synthesize")
    def synthesize() -> None:
        """Make training data with a model: from scratch, label-only, paraphrase, teacher questions, claims, judgements and compressions."""

    @synthesize.command(name="scratch")
    @click.option("--task", required=True, help="what the examples are for, in words")
    @click.option("--labels", required=True)
    @click.option("--n", "n_per_label", type=click.IntRange(min=1), default=5, help="examples per label")
    @click.option("--model", "-m", default="smollm2-135m")
    @click.option("--temperature", type=click.FloatRange(min=0), default=0.9)
    @click.option("--seed", type=int, default=0)
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    def scratch(task: str, labels: str, n_per_label: int, model: str, temperature: float, seed: int, out: str) -> None:
        """Write labelled examples for a TASK described in words."""
        from .api import run_synthesis
        from .records import write_jsonl

        res = run_synthesis("scratch", model=model, params={"task": task, "labels": _labels(labels),
                                                            "n_per_label": n_per_label, "temperature": temperature,
                                                            "seed": seed})
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="label")
    @click.argument("dataset", type=click.Path())
    @click.option("--labels", required=True)
    @click.option("--model", "-m", default="smollm2-135m")
    @click.option("--instruction", default="Classify the text.")
    @click.option("--few-shot", type=click.Path(dir_okay=False), default=None, help="JSONL of labelled examples")
    @click.option("--shots", type=click.IntRange(min=0), default=2)
    @click.option("--calibrate", is_flag=True, help="contextual calibration (white-box models)")
    @click.option("--mode", type=click.Choice(["auto", "logprobs", "generate"]), default="auto")
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @_with_engine
    def label(dataset: str, labels: str, model: str, instruction: str, few_shot: str | None, shots: int,
              calibrate: bool, mode: str, out: str, **engine: Any) -> None:
        """Label the texts of DATASET (JSONL with 'text'); confidence from token log-probs."""
        from .records import read_jsonl, write_jsonl

        records = read_jsonl(dataset)
        examples = []
        if few_shot:
            examples = [[r["text"], r["label"]] for r in read_jsonl(few_shot, require=("label",))[:shots]]
        job = {"op": "synthesize", "method": "label", "model": model,
               "params": {"labels": _labels(labels), "instruction": instruction, "examples": examples,
                          "calibrate": calibrate, "mode": mode}}
        res = _run_job(job, records, **engine)
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="questions")
    @click.option("--corpus", required=True, help="a folder of text files, or 'bbc' (the packaged BBC corpus)")
    @click.option("--model", "-m", default="qwen2.5-1.5b", show_default=True, help="the teacher")
    @click.option("--sample", type=click.IntRange(min=1), default=None, help="passages to sample (default: all)")
    @click.option("--exclude", "exclude", multiple=True, type=click.Path(dir_okay=False),
                  help="JSONL with doc_id fields (e.g. an evaluation set): its articles, and copies of them, are "
                       "left out (repeatable)")
    @click.option("--n", type=click.IntRange(min=1), default=2, show_default=True, help="questions per passage")
    @click.option("--unanswerable-every", type=click.IntRange(min=0), default=0, show_default=True,
                  help="also ask for a question the article does not answer on every k-th passage (0: never)")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @_with_engine
    def questions(corpus: str, model: str, sample: int | None, exclude: tuple[str, ...], n: int,
                  unanswerable_every: int, seed: int, out: str, **engine: Any) -> None:
        """The large model writes reader questions with answer spans for passages of a corpus, and keeps
        those it answers the same way again (round trip)."""
        from .records import write_jsonl
        from .teacher import corpus_passages

        passages = corpus_passages(corpus, exclude=exclude, sample=sample, seed=seed)
        click.echo(f"{len(passages)} passages from {corpus}", err=True)
        job = {"op": "synthesize", "method": "questions", "model": model,
               "params": {"n": n, "unanswerable_every": unanswerable_every, "seed": seed}}
        res = _run_job(job, passages, **engine)
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="claims")
    @click.option("--corpus", required=True, help="a folder of <topic>/<article>.txt files, or 'bbc' (the packaged BBC corpus)")
    @click.option("--model", "-m", default="qwen2.5-1.5b", show_default=True, help="the teacher (a white-box model)")
    @click.option("--contexts", type=click.IntRange(min=1), default=500, show_default=True,
                  help="contexts (2-4 sentences of an article), each with one rule-made claim")
    @click.option("--exclude", "exclude", multiple=True, type=click.Path(dir_okay=False, exists=True),
                  help="JSONL with doc_id fields (e.g. an evaluation set): its articles, and copies of them, are "
                       "left out (repeatable)")
    @click.option("--no-write", is_flag=True, help="judge only the rule-made claims (the teacher writes none)")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @_with_engine
    def claims(corpus: str, model: str, contexts: int, exclude: tuple[str, ...], no_write: bool, seed: int, out: str,
               **engine: Any) -> None:
        """The large model judges claims about article passages (rule-made ones, and ones it writes: true,
        joined, changed, added); its P(supported) is the soft label for `train verifier --teacher`."""
        from .records import write_jsonl
        from .teacher_claims import claim_contexts

        records = claim_contexts(corpus, contexts, exclude=exclude, seed=seed)
        click.echo(f"{len(records)} contexts from {corpus}", err=True)
        job = {"op": "synthesize", "method": "claims", "model": model, "params": {"seed": seed, "write": not no_write}}
        res = _run_job(job, records, **engine)
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="judgements")
    @click.option("--questions", "questions_in", required=True, multiple=True, type=click.Path(exists=True),
                  help="teacher questions: a `synthesize questions` output JSONL or its --state-dir folder (repeatable)")
    @click.option("--corpus", required=True, help="the corpus the questions were written about (a folder, or 'bbc')")
    @click.option("--model", "-m", default="qwen2.5-1.5b", show_default=True, help="the teacher (a white-box model)")
    @click.option("--candidates", type=click.IntRange(min=1), default=4, show_default=True,
                  help="passages of the question's article judged per question, its own included")
    @click.option("--sample", type=click.IntRange(min=1), default=None, help="judge N questions (seeded sample)")
    @click.option("--exclude", "exclude", multiple=True, type=click.Path(dir_okay=False, exists=True),
                  help="JSONL with doc_id fields (e.g. an evaluation set): drop questions on its articles (repeatable)")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @_with_engine
    def judgements(questions_in: tuple[str, ...], corpus: str, model: str, candidates: int, sample: int | None,
                   exclude: tuple[str, ...], seed: int, out: str, **engine: Any) -> None:
        """The large model judges whether passages of a teacher question's article answer it; its P(yes) is
        the soft label for `train reranker --judgements`."""
        from .records import write_jsonl
        from .teacher_judgements import judgement_inputs

        records = judgement_inputs(questions_in, corpus, exclude=exclude, sample=sample, seed=seed,
                                   candidates=candidates)
        click.echo(f"{len(records)} questions, {sum(len(r['candidates']) for r in records)} passages to judge",
                   err=True)
        job = {"op": "synthesize", "method": "judgements", "model": model, "params": {"seed": seed}}
        res = _run_job(job, records, **engine)
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="compressions")
    @click.option("--questions", "questions_in", required=True, multiple=True, type=click.Path(exists=True),
                  help="teacher questions: a `synthesize questions` output JSONL, its --state-dir folder or shard files "
                       "(repeatable)")
    @click.option("--model", "-m", default="qwen2.5-1.5b", show_default=True, help="the judge (a white-box model)")
    @click.option("--drafter", default="smollm2-135m", show_default=True,
                  help="the small white-box LM whose per-word self-information drafts the candidates")
    @click.option("--ratio", type=click.FloatRange(min=1.0, min_open=True), default=3.0, show_default=True,
                  help="each candidate keeps the passage's words divided by this")
    @click.option("--k", type=click.IntRange(min=1), default=4, show_default=True, help="candidates per question")
    @click.option("--noise", type=click.FloatRange(min=0), default=0.5, show_default=True,
                  help="Gumbel noise on the word scores of candidates 2..k, in standard deviations")
    @click.option("--sample", type=click.IntRange(min=1), default=None, help="N questions (seeded sample)")
    @click.option("--exclude", "exclude", multiple=True, type=click.Path(dir_okay=False, exists=True),
                  help="JSONL with doc_id fields (e.g. an evaluation set): drop questions on its articles (repeatable)")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @_with_engine
    def compressions(questions_in: tuple[str, ...], model: str, drafter: str, ratio: float, k: int, noise: float,
                     sample: int | None, exclude: tuple[str, ...], seed: int, out: str, **engine: Any) -> None:
        """Candidate compressions of each teacher question's passage (a small LM's least informative words
        dropped), judged by the large model: the labels of `train lingua` (LLMLingua-2-style)."""
        from .records import write_jsonl
        from .teacher_compressions import compression_inputs

        records = compression_inputs(questions_in, exclude=exclude, sample=sample, seed=seed)
        if not records:
            raise InputError(f"no answerable teacher question with a passage in {', '.join(questions_in)}")
        click.echo(f"{len(records)} questions, {k} candidates each at ratio {ratio}", err=True)
        job = {"op": "synthesize", "method": "compressions", "model": model,
               "params": {"seed": seed, "drafter": drafter, "ratio": ratio, "k": k, "noise": noise}}
        res = _run_job(job, records, **engine)
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="qa-file")
    @click.option("--questions", required=True, type=click.Path(exists=True),
                  help="teacher questions: a `synthesize questions` output JSONL or its --state-dir folder of shards")
    @click.option("--sample", type=click.IntRange(min=1), default=None, help="keep N questions (seeded sample)")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--exclude", "exclude", multiple=True, type=click.Path(dir_okay=False),
                  help="JSONL with doc_id fields (e.g. an evaluation set): drop questions on its articles (repeatable)")
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    def qa_file(questions: str, sample: int | None, seed: int, exclude: tuple[str, ...], out: str) -> None:
        """Turn teacher questions into a QA file for `pilotfish eval qa` (question, answer, doc_id, evidence:
        the passage sentence holding the answer), e.g. to collect router records on synthesized questions."""
        from .qa_files import read_teacher_questions, teacher_qa_rows
        from .records import read_doc_ids

        excluded: set[str] = set()
        for f in exclude:
            excluded |= read_doc_ids(f)
        rows, counts = teacher_qa_rows(read_teacher_questions(questions), sample=sample, seed=seed,
                                       exclude_docs=sorted(excluded))
        if not rows:
            raise InputError(f"{questions}: no question could be converted ({counts})")
        with open(out, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        click.echo(f"{len(rows)} questions ({counts['answerable']} answerable, {counts['unanswerable']} unanswerable) "
                   f"written to {out}; of {counts['read']} read: {counts['no_evidence_sentence']} without an evidence "
                   f"sentence, {counts['excluded_doc']} on excluded articles, {counts['duplicate_question']} repeated",
                   err=True)

    @synthesize.command(name="paraphrase")
    @click.argument("dataset", type=click.Path())
    @click.option("--n", type=click.IntRange(min=1), default=1, help="paraphrases per record")
    @click.option("--model", "-m", default="smollm2-135m")
    @click.option("--temperature", type=click.FloatRange(min=0), default=0.7)
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @_with_engine
    def para(dataset: str, n: int, model: str, temperature: float, out: str, **engine: Any) -> None:
        """Rewrite each record of DATASET; labels and fields are kept, provenance points back."""
        from .records import read_jsonl, write_jsonl

        job = {"op": "synthesize", "method": "paraphrase", "model": model, "params": {"n": n, "temperature": temperature}}
        res = _run_job(job, read_jsonl(dataset), **engine)
        write_jsonl(out, res.records)
        _report(res.report)

    @synthesize.command(name="dedup")
    @click.argument("dataset", type=click.Path())
    @click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.8)
    @click.option("--method", type=click.Choice(["minhash", "embedding"]), default="minhash")
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    def dedup_cmd(dataset: str, threshold: float, method: str, out: str) -> None:
        """Drop near-duplicate records of DATASET (the first occurrence is kept)."""
        from .dedup import dedup
        from .records import read_jsonl, write_jsonl

        kept, removed = dedup(read_jsonl(dataset), threshold=threshold, method=method)
        write_jsonl(out, kept)
        click.echo(f"{len(kept)} kept, {removed} near-duplicates removed", err=True)

    @cli.command(name="curate")
    @click.argument("dataset", type=click.Path())
    @click.option("--scorer", "-s", "scorers", multiple=True, required=True,
                  help="perplexity, ifd, coverage, quality-classifier, dedup, or an installed scorer plugin")
    @click.option("--set", "settings", multiple=True, help="scorer option: PLUGIN.OPTION=VALUE")
    @click.option("--where", "-w", multiple=True, help="keep condition, e.g. 'perplexity<=q0.9' or 'duplicate==0'")
    @click.option("--top", type=float, default=None, help="keep this many (or this fraction if < 1)")
    @click.option("--by", default=None, help="column that orders --top (highest first)")
    @click.option("--ascending", is_flag=True, help="--top takes the lowest values of --by")
    @click.option("--per", default=None, help="spread --top over the values of this column (e.g. cluster)")
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False))
    @click.option("--scores-out", type=click.Path(dir_okay=False), default=None, help="write every scored record too")
    @_with_engine
    def curate(dataset: str, scorers: tuple[str, ...], settings: tuple[str, ...], where: tuple[str, ...],
               top: float | None, by: str | None, ascending: bool, per: str | None, out: str, scores_out: str | None,
               **engine: Any) -> None:
        """Score DATASET with small models and keep the records the rule selects."""
        from .curation import select
        from .records import read_jsonl, write_jsonl

        records = read_jsonl(dataset)
        job = {"op": "score", "scorers": list(scorers), "options": _set_options(settings)}
        scored = _run_job(job, records, **engine).records
        selected = select(scored, where=where, top=top, by=by, descending=not ascending, per=per)
        write_jsonl(out, selected)
        if scores_out:
            write_jsonl(scores_out, scored)
        click.echo(f"{len(selected)} of {len(scored)} records kept", err=True)

    @cli.command(name="distill")
    @click.argument("dataset", type=click.Path())
    @click.option("--task", type=click.Choice(["classification", "generation", "whitebox"]), required=True)
    @click.option("--teacher", "-t", default="hf:smollm2-135m")
    @click.option("--student", default=None, help="minilm | minilm-finetune (classification); truncate:K or a model id")
    @click.option("--labels", default=None, help="classification: the label set")
    @click.option("--instruction", default="Classify the text.")
    @click.option("--heldout", type=click.Path(dir_okay=False), default=None, help="JSONL with gold labels / prompts")
    @click.option("--steps", type=click.IntRange(min=1), default=50, help="generation/whitebox training steps")
    @click.option("--epochs", type=click.IntRange(min=1), default=None, help="classification epochs")
    @click.option("--rationale", is_flag=True, help="generation: the teacher explains before answering")
    @click.option("--no-calibrate", is_flag=True, help="classification: no contextual calibration of the teacher")
    @click.option("--out", "-o", required=True, type=click.Path(file_okay=False))
    def distill(dataset: str, task: str, teacher: str, student: str | None, labels: str | None, instruction: str,
                heldout: str | None, steps: int, epochs: int | None, rationale: bool, no_calibrate: bool,
                out: str) -> None:
        """Train a student on DATASET from a teacher's labels, answers or token distributions."""
        from .api import run_distill
        from .records import read_jsonl, write_jsonl

        records = read_jsonl(dataset)
        params: dict[str, Any] = {"out": out}
        if task == "classification":
            held = read_jsonl(heldout, require=("label",)) if heldout else []
            params.update(labels=_labels(labels), instruction=instruction, heldout=held, epochs=epochs,
                          calibrate=not no_calibrate)
        else:
            held_texts = [r["text"] for r in read_jsonl(heldout)] if heldout else []
            params.update(steps=steps, heldout=held_texts)
            if task == "generation":
                params["rationale"] = rationale
        res = run_distill(task, records, teacher=teacher, student=student, params=params)
        if res.records:
            write_jsonl(Path(out) / "teacher-data.jsonl", res.records)
        click.echo(json.dumps(res.metrics, indent=2, default=str))

    @cli.command(name="weak-to-strong")
    @click.option("--few", required=True, type=click.Path(dir_okay=False), help="JSONL: the few gold-labelled examples")
    @click.option("--pool", required=True, type=click.Path(dir_okay=False), help="JSONL: texts the weak models label")
    @click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False), help="JSONL with gold labels")
    @click.option("--labels", default=None, help="label set (default: the labels of --few)")
    @click.option("--weak", default="tfidf-word-lr,tfidf-char-lr,count-nb")
    @click.option("--aux", default="0,0.75", help="confidence-loss weights to compare")
    def w2s(few: str, pool: str, test_path: str, labels: str | None, weak: str, aux: str) -> None:
        """Weak models trained on --few label --pool; a MiniLM student learns their labels; report PGR.

        The pool needs gold labels only to compute the strong ceiling.
        """
        from .records import read_jsonl
        from .weak_to_strong import weak_to_strong

        few_r = read_jsonl(few, require=("label",))
        pool_r = read_jsonl(pool, require=("label",))
        test_r = read_jsonl(test_path, require=("label",))
        classes = _labels(labels) if labels else sorted({r["label"] for r in few_r})
        try:
            aux_w = tuple(float(a) for a in aux.split(","))
        except ValueError:
            raise InputError(f"--aux expects comma-separated numbers, got {aux!r}") from None
        rep = weak_to_strong(few_r, pool_r, test_r, classes, weak=[w.strip() for w in weak.split(",")],
                             aux_weights=aux_w)
        click.echo(json.dumps(rep.__dict__, indent=2))
