"""``plugins`` and ``models``: what is installed, and the models pilotfish has trained."""

from __future__ import annotations

import json
from typing import Any

import click

from pilotfish.core.errors import PilotfishError

from .group import cli


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
    ("lingua-minilm", "pilotfish_lingua.json", "val_label_f1", "pilotfish train lingua"),
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
