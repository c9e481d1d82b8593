from pilotfish.verifiers.claims import split_claims, strip_citations


def test_sentences_citations_stripped_and_kept():
    text = "Mr. Smith said sales rose 2.5% in the U.S. last year [1]. Profits fell [2, 3]. Nothing else."
    claims = split_claims(text)
    assert [c.text for c in claims] == [
        "Mr. Smith said sales rose 2.5% in the U.S. last year.", "Profits fell.", "Nothing else."]
    assert [c.citations for c in claims] == [[1], [2, 3], []]
    for c in claims:
        assert text[c.span[0]:c.span[1]] == c.raw


def test_citation_after_full_stop_and_ranges():
    claims = split_claims("Sales rose. [2] He quit [1-3]! Done")
    assert [(c.text, c.citations) for c in claims] == [("Sales rose.", [2]), ("He quit!", [1, 2, 3]), ("Done", [])]
    # markers after the last full stop, or on a line of their own, belong to the sentence before them
    for text in ("Sales rose, however. [2]", "Sales rose, however.\n[2]"):
        (claim,) = split_claims(text)
        assert claim.citations == [2] and claim.span == (0, len(text))


def test_empty_and_citation_only():
    assert split_claims("") == []
    assert split_claims("  [1] ") == []
    assert strip_citations("Growth was 1.4% [1][2].") == ("Growth was 1.4%.", [1, 2])
