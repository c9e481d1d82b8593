"""``supericl``: a small trained classifier's label and confidence go into the prompt as a hint.

SuperICL (Xu et al. 2023, "Small Models are Valuable Plug-ins for Large Language Models"): the large
model reads the item, then what a fine-tuned small classifier predicted for it and how sure it was,
and gives the final label; it may overrule the classifier. In-context examples (from the ``examples``
plugin, which runs first) get the classifier's prediction too, so the large model sees when the
classifier was right and when it was wrong.

Config::

    [pilotfish]
    plugins = ["examples", "supericl"]     # examples optional

    [pilotfish.plugin.supericl]
    classifier = "specialist:bbc-topic"    # a specialist model id (anything with predict_batch)
    task = "bbc-topic"                     # optional: only requests whose metadata["task"] is this

The classified text is ``request.metadata["input"]`` when set, else the question. The prediction is in
``request.metadata["supericl"]``.
"""

from __future__ import annotations

from typing import Any

from pilotfish.core.errors import ConfigError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Request

HINT = "A fine-tuned classifier predicts: {label} (confidence {confidence:.2f})."
INSTRUCTION = ("The classifier is usually right, but it can be wrong: give the label the text itself supports.")


def annotate(text: str, label: str, confidence: float) -> str:
    return f"{text}\n\n{HINT.format(label=label, confidence=confidence)}"


class SuperICL(Plugin):
    """``before_prompt``: add the classifier's prediction to the question (and to the examples)."""

    name = "supericl"

    class Options(PluginOptions):
        classifier: str = "specialist:bbc-topic"
        """A specialist model id, or the folder of one (``pilotfish train specialist NAME --out DIR``)."""
        task: str | None = None
        """Only touch requests whose ``metadata["task"]`` is this (default: every request)."""
        annotate_examples: bool = True
        """Also show the classifier's prediction on each in-context example (the SuperICL format)."""
        example_field: str = "input_text"
        """Key of an example dict holding its raw text to classify (default: its ``input``)."""

    def _classifier(self, pilot: Any) -> Any:
        from pathlib import Path

        from pilotfish.core.models import get_model
        from pilotfish.specialists.plugin import load_specialist_dir

        value = self.options.classifier
        folder = pilot.resolve_path(value) if pilot is not None else Path(value).expanduser()
        if folder.is_dir():
            load = lambda: load_specialist_dir(folder)  # noqa: E731
            model = pilot.shared(f"supericl:{folder}", load) if pilot is not None else load()
        else:
            model = get_model(value)
        if not callable(getattr(model, "predict_batch", None)):
            raise ConfigError(f"plugin 'supericl': classifier {self.options.classifier!r} is not a specialist "
                              "(it has no predict_batch); use e.g. 'specialist:bbc-topic'")
        return model

    @hookimpl(trylast=True)
    def before_prompt(self, request: Request, pilot: Any) -> Request | None:
        if self.options.task is not None and request.metadata.get("task") != self.options.task:
            return None
        clf = self._classifier(pilot)
        text = str(request.metadata.get("input") or request.question)
        examples = list(request.examples)
        todo = [i for i, e in enumerate(examples) if isinstance(e, dict) and "input" in e and "output" in e] \
            if self.options.annotate_examples else []
        inputs = [text] + [str(examples[i].get(self.options.example_field) or examples[i]["input"]) for i in todo]
        preds = clf.predict_batch(inputs, explain=False)
        for i, p in zip(todo, preds[1:], strict=True):
            examples[i] = {**examples[i], "input": annotate(str(examples[i]["input"]), p.label, p.confidence)}
        mine = preds[0]
        question = f"{annotate(request.question, mine.label, mine.confidence)}\n{INSTRUCTION}"
        messages = list(request.messages)
        if messages and messages[-1].get("role") == "user":
            messages[-1] = {**messages[-1], "content": question}
        return request.replace(question=question, messages=tuple(messages), examples=tuple(examples),
                               metadata={**request.metadata, "supericl": {
                                   "classifier": self.options.classifier, "label": mine.label,
                                   "confidence": round(mine.confidence, 4)}})
