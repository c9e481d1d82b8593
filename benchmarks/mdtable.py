"""Markdown tables as the benchmarks print them (to paste into docs/ as they are).

    from mdtable import md_header, md_row, md_table

``md_row(["a", 1, ""])`` is ``| a | 1 | |``; ``md_header(columns)`` adds the ``|---|`` line under the
column names; ``md_table(columns, rows)`` is the whole table. A script that prints each row as soon as it
is measured prints ``md_header`` first and then ``md_row`` per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def md_row(cells: Iterable[object]) -> str:
    """One table row: each cell as ``str(cell)``, an empty one as ``| |``."""
    return "|" + "|".join(f" {text} " if (text := str(c)) else " " for c in cells) + "|"


def md_header(columns: Sequence[str]) -> str:
    """The header row and the ``|---|`` line under it (two lines)."""
    return md_row(columns) + "\n|" + "---|" * len(columns)


def md_table(columns: Sequence[str], rows: Iterable[Iterable[object]]) -> str:
    """The header and every row, one line each."""
    return "\n".join([md_header(columns), *(md_row(r) for r in rows)])
