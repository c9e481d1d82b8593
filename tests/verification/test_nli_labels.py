import pytest

import pilotfish
from pilotfish.verifiers.nli import CONTRADICTION, ENTAILMENT, NEUTRAL, NLIModel, label_mapping


def test_label_mappings():
    assert label_mapping({0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}) == {0: CONTRADICTION, 1: ENTAILMENT, 2: NEUTRAL}
    assert label_mapping({"0": "entailment", "1": "not_entailment"}) == {0: ENTAILMENT, 1: NEUTRAL}
    assert label_mapping({0: "hallucinated", 1: "consistent"}) == {0: NEUTRAL, 1: ENTAILMENT}
    with pytest.raises(pilotfish.ModelError, match="missing entailment, neutral, contradiction"):
        label_mapping({0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(pilotfish.ModelError, match="missing contradiction"):
        label_mapping({0: "entailment", 1: "neutral", 2: "positive"})


def test_non_nli_checkpoint_is_a_clear_error(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pilotfish.models.packaged import minilm_path

    path = tmp_path / "sentiment"
    model = AutoModelForSequenceClassification.from_pretrained(
        str(minilm_path()), num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(path)
    with pytest.raises(pilotfish.ModelError, match=r"not an NLI model.*\[negative, positive\].*missing entailment"):
        NLIModel(path)
    with pytest.raises(pilotfish.ModelError, match="not a Hugging Face checkpoint"):
        NLIModel(tmp_path)
