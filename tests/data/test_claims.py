"""The rule-made claim edits of pilotfish.data (the verifier's training data): pure functions of
(sentence, random generator)."""

import random

from pilotfish.data.contradictions import change_number, false_link, swap_entity
from pilotfish.data.facts import numbers


def test_false_causal_link_ties_two_context_facts():
    window = ["Sales rose 8% to 40.7bn euros in 2004.", "The firm opened a plant in Brazil last year."]
    claim = false_link(window[0], random.Random(0), window=window)
    assert claim is not None and claim.startswith("Sales rose 8% to 40.7bn euros in 2004, ")
    assert "the firm opened a plant in Brazil last year" in claim  # the other fact, lower-cased as a clause
    # a window with only the claim itself, or a claim that already states a cause: no link
    assert false_link(window[0], random.Random(0), window=window[:1]) is None
    assert false_link("Sales rose because demand grew.", random.Random(0), window=window[1:] + ["Prices fell due to a glut."]) is None


def test_number_and_entity_changes_can_take_the_value_from_the_context():
    context = ("Cutting the limit to 50mg would save 65 lives a year, University College London says. "
               "Professor Richard Allsop says it would also mean 230 fewer serious injuries.")
    claim = "Cutting the limit to 50mg would save 65 lives a year, University College London says."
    rng = random.Random(0)
    changed = {change_number(claim, rng, context=context, in_context=0.4) for _ in range(60)}
    from_context = {c for c in changed if set(numbers(c)) <= set(numbers(context))}
    assert claim.replace("65", "230") in from_context  # the other figure of the passage
    assert len(changed - from_context) > 0  # and still perturbed values
    assert None not in changed and claim not in changed
    swapped = {swap_entity(claim, rng, pool=["Imperial College"], context=context, in_context=0.4) for _ in range(60)}
    assert claim.replace("University College London", "Professor Richard Allsop") in swapped
    assert claim.replace("University College London", "Imperial College") in swapped
    # no other value in the context, or in_context 0 (the default): a perturbation, as before
    assert change_number(claim, random.Random(1), context=claim, in_context=1.0) != claim
    assert all(change_number(claim, random.Random(i), context=context) != claim.replace("65", "230") for i in range(30))
