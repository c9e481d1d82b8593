from __future__ import annotations

from pathlib import Path

import pytest

from pilotfish import InputError, PilotfishWarning
from pilotfish.retrievers.documents import chunk_document, load_directory, normalize_ws, split_sentences


def test_loader_ids_titles_and_skips(tmp_path: Path) -> None:
    (tmp_path / "tech").mkdir()
    (tmp_path / "tech" / "001.txt").write_text("Chips get faster\n\nIntel said on Monday. Sales rose 5%.\n")
    (tmp_path / "notes.md").write_text("# My notes\nSome text here.\n")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    with pytest.warns(PilotfishWarning, match="skipped 2 undecodable"):
        report = load_directory(tmp_path)
    ids = {d.doc_id: d for d in report.documents}
    assert set(ids) == {"tech/001", "notes"}
    assert ids["tech/001"].title == "Chips get faster"
    assert ids["notes"].title == "My notes"
    assert len(report.skipped) == 2


def test_empty_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no text documents"):
        load_directory(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_directory(tmp_path / "nope")


def test_sentences_keep_abbreviations() -> None:
    text = "Mr. Smith met Dr. Jones in the U.S. on Monday. They talked. \"It went well!\" he said."
    sents = [text[s:e] for s, e in split_sentences(text)]
    assert sents == ["Mr. Smith met Dr. Jones in the U.S. on Monday.", "They talked.", "\"It went well!\" he said."]


def test_chunker_limits_offsets_overlap(corpus: Path) -> None:
    report = load_directory(corpus)
    doc = report.documents[0]
    passages = chunk_document(doc, max_words=60, overlap=1)
    assert len(passages) > 2
    for i, p in enumerate(passages):
        assert p.id == f"{doc.doc_id}#{i}"
        assert doc.text[p.start:p.end] == p.text  # offsets point into the source for citations
        assert p.title == doc.title and doc.title not in p.text[: len(doc.title)]
        assert len(p.text.split()) <= 60 or len(split_sentences(p.text)) == 1
    # one sentence of overlap: the next passage starts with the previous one's last sentence
    last = [p.text[s:e] for s, e in split_sentences(passages[0].text)][-1]
    assert passages[1].text.startswith(last)
    no_overlap = chunk_document(doc, max_words=60, overlap=0)
    assert len(no_overlap) < len(passages)
    # every sentence of the body is whole in some passage
    for s, e in split_sentences(doc.text[doc.body_start:]):
        sent = normalize_ws(doc.text[doc.body_start + s: doc.body_start + e])
        assert any(sent in normalize_ws(p.text) for p in passages)


def test_chunker_rejects_bad_sizes(corpus: Path) -> None:
    doc = load_directory(corpus).documents[0]
    with pytest.raises(InputError):
        chunk_document(doc, max_words=2)
    with pytest.raises(InputError):
        chunk_document(doc, overlap=-1)
