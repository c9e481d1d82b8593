import pilotfish
from pilotfish.verifiers.consistency import ConsistencyVerifier


def test_similarity_consistency_with_real_embedder(make_pilot):
    # the answer, then three samples: the first claim comes back every time, the second never
    model = pilotfish.FakeModel([
        "Time Warner's profits rose 76%. The chief executive resigned on Monday.",
        "Profits at Time Warner rose 76%.", "Time Warner profit jumped by 76%.", "Time Warner's profits rose 76 percent.",
    ])
    pilot = make_pilot(ConsistencyVerifier(samples=3, threshold=0.6), model=model, max_repair_rounds=0)
    answer = pilot.run("How did Time Warner do?")
    first, second = answer.verdicts
    assert first.passed and not second.passed and first.score > second.score
    assert len(model.calls) == 4


def test_nli_consistency_with_tiny_verifier(tiny_verifier):
    v = ConsistencyVerifier(method="nli", model=str(tiny_verifier))
    scores = v.score(["Profits rose 76%."], ["Profits rose 76%.", "Profits fell."])
    assert len(scores) == 1 and 0.0 <= scores[0] <= 1.0


def test_empty_answer():
    (verdict,) = ConsistencyVerifier().verify(pilotfish.Request("q"), "", [], None)
    assert not verdict.passed and "empty" in verdict.message
