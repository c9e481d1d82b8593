"""Trained prompt compressors: small token classifiers that say which words of a passage to keep.

- :mod:`.model`: :class:`~.model.KeepClassifier` (MiniLM + a keep/drop head per word, LLMLingua-2-style),
  the model id ``lingua``;
- :mod:`.train`: ``pilotfish train lingua`` from the large model's judged compressions
  (``pilotfish synthesize compressions``) and the held-out scores it records;
- :mod:`.plugin`: registers the id and the command (entry point ``compressors``).
"""
