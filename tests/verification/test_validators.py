import pytest

import pilotfish
from pilotfish.verifiers.validators import (
    CitationsValidator,
    JsonSchemaValidator,
    LengthValidator,
    RegexValidator,
)


def test_json_schema():
    v = JsonSchemaValidator(schema={"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}})
    assert v.check('```json\n{"a": 1}\n```')[0].passed
    bad = v.check('{"a": "x"}')
    assert not bad[0].passed and "a" in bad[0].message
    assert "not valid JSON" in v.check("nope")[0].message


def test_json_schema_bad_config():
    with pytest.raises(pilotfish.ConfigError, match="exactly one"):
        JsonSchemaValidator()
    with pytest.raises(pilotfish.ConfigError, match="schema is invalid"):
        JsonSchemaValidator(schema={"type": 12})


def test_regex_length():
    assert RegexValidator(pattern=r"\d").verify("abc")[0].passed is False
    assert RegexValidator(pattern=r"password", forbid=True).verify("my password is")[0].passed is False
    with pytest.raises(pilotfish.ConfigError, match="invalid pattern"):
        RegexValidator(pattern="(")
    assert LengthValidator(max_words=2).verify("a b c")[0].message == "3 words > 2"
    assert LengthValidator(min_chars=1).verify("ok")[0].passed


def test_citations_every_sentence_and_range(make_pilot):
    docs = [pilotfish.Document("d1", "Sales rose."), pilotfish.Document("d2", "Costs fell.")]
    v = CitationsValidator()
    out = v.check("Sales rose [1]. Costs fell [3]. Unsourced.", docs)
    assert [x.claim for x in out] == ["Costs fell.", "Unsourced."]
    assert "only 2 passage" in out[0].message
    assert v.check("Sales rose [1]. Costs fell [2].", docs)[0].passed

    class Docs:
        @pilotfish.hookimpl
        def retrieve(self, request, k):
            return docs

    pilot = make_pilot(Docs(), CitationsValidator(), model=pilotfish.FakeModel(["Sales rose [1]. Costs fell."]),
                       max_repair_rounds=0)
    answer = pilot.run("what happened?")
    assert [v.claim for v in answer.failed_verdicts] == ["Costs fell."]
