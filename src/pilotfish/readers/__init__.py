"""Extractive readers: small span models that answer a question from passages (``reader``).

- :mod:`.examples`: training examples from the teacher's questions, hard negatives and cloze questions;
- :mod:`.train`: ``pilotfish train reader`` (MiniLM + span head) and the held-out scores it records;
- :mod:`.model`: the trained reader, and :class:`~.model.Reader`, the model id ``reader`` (a cited span or
  a refusal, with a confidence the ``cascade`` escalates on);
- :mod:`.plugin`: registers the id and the command (entry point ``readers``).
"""
