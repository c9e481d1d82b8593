"""Records: the unit every data tool reads and writes, one JSON object per line (JSONL).

A record is a plain ``dict`` so it survives JSONL, Ray/Arrow batches and other engineers' code
unchanged. Fields every tool understands:

- ``id`` (str): stable identifier (a hash of the text when the input has none).
- ``text`` (str): the example (or the instruction, for instruction data).
- ``label`` (str, optional): a class label; ``confidence`` (float, optional) its probability.
- ``response`` (str, optional): an answer / completion for generation tasks.
- ``scores`` (dict, optional): curation columns, ``{"perplexity": 12.3, "ifd": 0.8}``.
- ``provenance`` (dict): who made the record: ``plugin``, ``model``, ``prompt`` or ``rule``,
  ``source`` (the id of the record it was derived from), and free-form extras.

Readers give errors a user can act on: a missing or empty file, a line that is not JSON, a
record without the text field (the error names the line number).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError

Record = dict[str, Any]

PROVENANCE_KEYS = ("plugin", "model", "prompt", "rule", "source")


def text_id(text: str, prefix: str = "r") -> str:
    """A short stable id for a text (the same text gets the same id in every process)."""
    return f"{prefix}-{hashlib.blake2b(text.encode('utf-8'), digest_size=6).hexdigest()}"


def provenance(
    plugin: str,
    *,
    model: str | None = None,
    prompt: str | None = None,
    rule: str | None = None,
    source: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance block of a record: which plugin, model, prompt or rule, source record."""
    out: dict[str, Any] = {"plugin": plugin, "model": model, "prompt": prompt, "rule": rule, "source": source}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def make_record(text: str, *, prov: dict[str, Any], id: str | None = None, **fields: Any) -> Record:
    """A new record with provenance (``prov`` from :func:`provenance`)."""
    if not isinstance(text, str):
        raise InputError(f"a record's text must be a string, got {type(text).__name__}")
    rec: Record = {"id": id or text_id(text), "text": text}
    rec.update({k: v for k, v in fields.items() if v is not None})
    rec["provenance"] = dict(prov)
    return rec


def derive(source: Record, text: str, *, prov: dict[str, Any], suffix: str, **fields: Any) -> Record:
    """A record derived from ``source`` (paraphrase, label...): provenance points back to it."""
    prov = {**prov, "source": source.get("id")}
    return make_record(text, prov=prov, id=f"{source.get('id')}:{suffix}", **fields)


def ensure_provenance(records: Iterable[Record], plugin: str = "input", rule: str = "read from file") -> list[Record]:
    """Give records read from user files an id and a provenance block if they lack one."""
    out = []
    for rec in records:
        rec = dict(rec)
        rec.setdefault("id", text_id(str(rec.get("text", ""))))
        rec["id"] = str(rec["id"])
        if not isinstance(rec.get("provenance"), dict):
            rec["provenance"] = provenance(plugin, rule=rule)
        out.append(rec)
    return out


def read_jsonl(
    path: str | Path,
    *,
    text_field: str = "text",
    require: Sequence[str] = (),
    allow_empty: bool = False,
) -> list[Record]:
    """Read records, checking each line.

    Raises :class:`~pilotfish.InputError` naming the file and line for: a missing file, an
    empty dataset, a line that is not a JSON object, a record without a non-empty string in
    ``text_field`` (or without one of the ``require`` fields).
    """
    p = Path(path)
    records: list[Record] = []
    for where, rec in iter_jsonl(p, "dataset"):
        check_record(rec, text_field=text_field, require=require, where=where)
        records.append(rec)
    if not records and not allow_empty:
        raise InputError(f"dataset {str(p)!r} is empty (no records)")
    return ensure_provenance(records)


def iter_jsonl(path: str | Path, what: str = "file") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each non-blank line of a JSONL file; ``where`` reads ``FILE: line N``.

    The one JSONL reader of the project (datasets, retrieval queries, claim files): a missing
    file, a line that is not JSON and a line that is not an object are :class:`InputError` s
    naming the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {str(p)!r} does not exist or is not a file")
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = _decode(p, lineno, raw)
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}: line {lineno} is not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise InputError(f"{p}: line {lineno} is a JSON {type(rec).__name__}, expected an object")
            yield f"{p}: line {lineno}", rec


def iter_job_records(paths: Iterable[str | Path], what: str, missing: str,
                     empty: str) -> Iterator[tuple[str, Any]]:
    """``(where, record)`` for every record of a data job's outputs: JSONL files of one record a line, or
    the job's ``--state-dir`` folders / shard files (``{"records": [...]}`` a line). ``missing`` and
    ``empty`` are the errors for a path that does not exist and for no file at all (``{}``: the path(s))."""
    paths = list(paths)
    files: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            files += sorted(p.glob("shard-*.jsonl")) or sorted(p.glob("*.jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(missing.format(p))
    if not files:
        raise InputError(empty.format(", ".join(str(p) for p in paths)))
    for f in files:
        for where, row in iter_jsonl(f, what):
            for rec in (row.get("records") if "records" in row else [row]) or []:
                yield where, rec


def _decode(path: Path, lineno: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: line {lineno} is not UTF-8 text (byte {exc.start + 1}: {raw[exc.start:exc.start + 1]!r}); "
                         "is this a binary file? a JSONL file holds one JSON object per line") from None


def check_record(rec: Record, *, text_field: str = "text", require: Sequence[str] = (), where: str = "record") -> None:
    value = rec.get(text_field)
    if value is None:
        keys = ", ".join(sorted(rec)) or "none"
        raise InputError(f"{where}: record has no {text_field!r} field (fields: {keys})")
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: field {text_field!r} must be a non-empty string, got {value!r}")
    for name in require:
        if rec.get(name) in (None, ""):
            raise InputError(f"{where}: record has no {name!r} field")


def check_records(records: Sequence[Record], *, text_field: str = "text", require: Sequence[str] = ()) -> list[Record]:
    """Validate in-memory records like :func:`read_jsonl` does (errors name the record index)."""
    if not records:
        raise InputError("the dataset is empty (no records)")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InputError(f"record {i} is a {type(rec).__name__}, expected a dict")
        check_record(rec, text_field=text_field, require=require, where=f"record {i}")
    return ensure_provenance(records)


def write_jsonl(path: str | Path, records: Iterable[Record]) -> int:
    """Write records atomically (a temporary file renamed into place); returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(p)
    return n


def as_records(texts_or_records: Sequence[str] | Sequence[Record], plugin: str = "input") -> list[Record]:
    """Accept plain strings or records; strings become records with provenance."""
    out: list[Record] = []
    for i, item in enumerate(texts_or_records):
        if isinstance(item, str):
            if not item.strip():
                raise InputError(f"text {i} is empty")
            out.append(make_record(item, prov=provenance(plugin, rule="given as text")))
        elif isinstance(item, dict):
            check_record(item, where=f"record {i}")
            out.extend(ensure_provenance([item]))
        else:
            raise InputError(f"item {i} is a {type(item).__name__}, expected a string or a record dict")
    if not out:
        raise InputError("the dataset is empty (no records)")
    return out


def read_doc_ids(path: str | Path) -> set[str]:
    """Article ids to keep out of training (evaluation articles): a .jsonl with ``doc_id`` fields
    (a QA or claims set works as it is), or one id per line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file (a .jsonl with doc_id fields, or one article id per line)")
    ids: set[str] = set()
    for n, raw in enumerate(p.read_bytes().splitlines(), 1):
        line = _decode(p, n, raw).strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                doc = json.loads(line).get("doc_id")
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}:{n}: not valid JSON ({exc.msg})") from None
            if doc:
                ids.add(str(doc))
        else:
            ids.add(line)
    return ids


def shipped_dir(relative: str, missing: str) -> Path:
    """A dataset folder the source checkout ships (``relative`` to the repository root, e.g.
    ``datasets/teacher-questions/state``), found above this file; ``missing`` is the error when it is not."""
    for parent in Path(__file__).resolve().parents:
        if (parent / relative).is_dir():
            return parent / relative
    raise InputError(missing)
