"""The ``integrations`` plugin: the model id schemes ``langchain:<module>:<attr>`` and
``llamaindex:<module>:<attr>`` (any LangChain chat model or LlamaIndex LLM as a pilotfish model).
LangChain and LlamaIndex are imported only when such an id is used."""

from __future__ import annotations

from typing import Any

from pilotfish.core.hookspecs import hookimpl


def _langchain_model(spec: str) -> Any:
    from pilotfish.adapters.langchain import load_langchain_model

    return load_langchain_model(spec)


def _llamaindex_model(spec: str) -> Any:
    from pilotfish.adapters.llamaindex import load_llamaindex_model

    return load_llamaindex_model(spec)


@hookimpl
def register_models(register: Any) -> None:
    register.scheme("langchain", _langchain_model, description="a LangChain chat model: langchain:<module>:<attr>")
    register.scheme("llamaindex", _llamaindex_model, description="a LlamaIndex LLM: llamaindex:<module>:<attr>")
