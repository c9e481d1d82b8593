"""`train colbert --teacher-questions [--judgements]`: the large model's questions become training pairs with a
same-article negative, and the teacher's judgements keep a neighbour that states the answer out of the
negatives."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pilotfish import PilotfishWarning
from pilotfish.core.errors import InputError

SHARD = Path(__file__).resolve().parents[2] / "datasets" / "teacher-questions" / "state" / "shard-00000.jsonl"


def test_teacher_questions_get_the_neighbour_the_teacher_judged_not_to_answer(tmp_path: Path) -> None:
    from pilotfish.data.teacher import read_teacher_records
    from pilotfish.retrievers.colbert_train import TrainConfig, make_pairs, teacher_question_pairs
    from pilotfish.retrievers.documents import chunk_documents, load_directory

    records = [r for r in read_teacher_records([SHARD]) if r["kind"] == "answerable"]
    docs = {r["doc_id"] for r in records}
    with pytest.warns(PilotfishWarning, match="undecodable"):
        passages = chunk_documents([d for d in load_directory("bbc").documents if d.doc_id in docs])
    by_doc: dict[str, list] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    plain = teacher_question_pairs(passages, TrainConfig(teacher_questions=(str(SHARD),)), random.Random(0))
    assert [(q, p.id) for q, p, _ in plain] == [(r["question"], r["passage_id"]) for r in records]
    assert all(n is None or (n.doc_id == p.doc_id and n.id != p.id) for _, p, n in plain)
    # the teacher says the last neighbour does not answer, every other one does
    judged = tmp_path / "judged.jsonl"
    lines = []
    for r in records:
        others = [p.id for p in by_doc[r["doc_id"]] if p.id != r["passage_id"]]
        lines.append({"question": r["question"], "passage_id": r["passage_id"],
                      "candidates": [{"id": r["passage_id"], "p_yes": 0.9}]
                      + [{"id": o, "p_yes": 0.2 if o == others[-1] else 0.8} for o in others]})
    judged.write_text("".join(json.dumps(x) + "\n" for x in lines))
    cfg = TrainConfig(teacher_questions=(str(SHARD),), judgements=(str(judged),))
    for (_, _, n), line in zip(teacher_question_pairs(passages, cfg, random.Random(0)), lines, strict=True):
        others = [c["id"] for c in line["candidates"][1:]]
        assert (n.id if n else None) == (others[-1] if others else None)
    # all neighbours judged to state the answer: no same-article negative at all
    judged.write_text("".join(json.dumps({**x, "candidates": [{**c, "p_yes": 0.9} for c in x["candidates"]]}) + "\n"
                              for x in lines))
    assert all(n is None for _, _, n in teacher_question_pairs(passages, cfg, random.Random(0)))
    pairs, same_doc = make_pairs(passages, TrainConfig(questions=0, ict=0, cloze=0, teacher_questions=(str(SHARD),)),
                                 random.Random(0), False)
    assert sum(1 for pair in pairs if pair[3] == "teacher") == len(records)
    with pytest.raises(InputError, match="give them too"):
        teacher_question_pairs(passages, TrainConfig(judgements=(str(judged),)), random.Random(0))
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "Who?", "passage_id": "x#0", "candidates": [{"id": "x#0", "p_yes": 1}]}) + "\n")
    with pytest.raises(InputError, match="no judgement in"):
        teacher_question_pairs(passages, TrainConfig(teacher_questions=(str(SHARD),), judgements=(str(other),)),
                               random.Random(0))


def test_training_on_teacher_questions_ranks_their_passage_above_its_neighbour(tmp_path: Path) -> None:
    """A real (tiny) run on the teacher's questions alone: afterwards MaxSim puts each question's own passage
    further above its same-article negative than the untrained model did."""
    import shutil

    import numpy as np

    from pilotfish.data.corpora import resolve_corpus
    from pilotfish.data.teacher import read_teacher_records
    from pilotfish.retrievers.colbert_model import ColbertEncoder
    from pilotfish.retrievers.colbert_train import TrainConfig, teacher_question_pairs, train
    from pilotfish.retrievers.documents import chunk_documents, load_directory

    records = [r for r in read_teacher_records([SHARD]) if r["kind"] == "answerable"]
    root, corpus = resolve_corpus("bbc"), tmp_path / "corpus"
    for doc in {r["doc_id"] for r in records}:  # the shard's articles only, so the run takes seconds
        (corpus / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / f"{doc}.txt", corpus / f"{doc}.txt")
    passages = chunk_documents(load_directory(corpus).documents)
    pairs = [(q, p.index_text(), n.index_text()) for q, p, n in
             teacher_question_pairs(passages, TrainConfig(teacher_questions=(str(SHARD),)), random.Random(0))
             if n is not None]
    assert len(pairs) >= 10

    def margins(enc: ColbertEncoder) -> np.ndarray:
        out = []
        for q, pos, neg in pairs:
            qv = enc.encode_queries([q])[0]
            p, n = enc.encode_docs([pos, neg])
            out.append(float((qv @ p.T).max(1).sum() - (qv @ n.T).max(1).sum()))
        return np.array(out)

    before = margins(ColbertEncoder.untrained())
    path = train(corpus, tmp_path / "ckpt", TrainConfig(questions=0, cloze=0, ict=0, teacher_questions=(str(SHARD),),
                                                        steps=16, batch_size=8, doc_maxlen=96))
    meta = json.loads((path / "artifact.metadata").read_text())["pilotfish"]
    assert meta["teacher_questions"] == len(records) and meta["steps"] == 16
    assert meta["loss_last"] < meta["loss_first"]
    after = margins(ColbertEncoder.load(str(path)))
    assert after.mean() > before.mean() + 0.5, (before.mean(), after.mean())
    assert (after > 0).sum() >= (before > 0).sum()
