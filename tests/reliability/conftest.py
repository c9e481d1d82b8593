"""Fixtures of the reliability tests (issue 17): tiny corpora written here, the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

ARTICLES = {
    "sport/rowing.txt": "Rowing club wins regatta\n\nThe rowing club from Henley won the spring regatta on Saturday. "
                        "Its eight crossed the line two lengths ahead of the Oxford crew.",
    "sport/chess.txt": "Chess champion keeps title\n\nThe chess champion kept her title after a tense final game. "
                       "She sacrificed a rook on move thirty and forced mate.",
    "tech/battery.txt": "New battery lasts a week\n\nEngineers built a phone battery that lasts a week on one charge. "
                        "The cell uses silicon anodes and costs little more than today's.",
    "tech/robots.txt": "Robots sort parcels\n\nWarehouse robots now sort a million parcels a day. "
                       "Each robot reads the barcode and drops the parcel into the right chute.",
}


def write_corpus(root: Path, articles: dict[str, str]) -> Path:
    for name, text in articles.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", ARTICLES)


@pytest.fixture
def bm25_index(corpus: Path, tmp_path: Path) -> Path:
    from pilotfish.retrievers.index import build_index

    out = tmp_path / "index"
    build_index(corpus, out, ["bm25"])
    return out


@pytest.fixture(scope="session")
def run_cli():
    """Run ``pilotfish ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from pilotfish.cli import cli, load_plugin_commands

    load_plugin_commands()

    def run(*args: object) -> tuple[int, str, str]:
        res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        return res.exit_code, res.stdout, res.stderr

    return run
