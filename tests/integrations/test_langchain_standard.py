"""LangChain's own standard test suites (``langchain-tests``) on pilotfish's LangChain classes,
against the real packaged small model (SmolLM2-135M) and a real MiniLM retriever.

Skipped standard tests are the ones the suites' own properties switch off because the
capability does not apply: tool calling, structured output, JSON mode, multimodal inputs,
per-call model override, VCR recording.
"""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import ChatModelIntegrationTests, RetrieversIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import ChatModelUnitTests  # noqa: E402
from pf_integration_helpers import MiniLMRetriever, bbc_articles  # noqa: E402

from pilotfish.adapters.langchain import PilotChatModel, PilotRetriever  # noqa: E402

_pilots: dict[str, object] = {}


def _mark_async(cls):
    """langchain-tests' async tests expect pytest-asyncio's auto mode; mark them on our classes
    instead of changing the project's pytest configuration."""
    for name in dir(cls):
        fn = getattr(cls, name)
        if name.startswith("test_") and inspect.iscoroutinefunction(fn):
            setattr(cls, name, pytest.mark.asyncio(fn))
    return cls


def _chat_pilot():
    """SmolLM2 with short answers (the chain's default max_tokens is 6) to keep the suite fast."""
    import pilotfish

    if "chat" not in _pilots:
        config = pilotfish.PilotConfig(generation={"max_tokens": 6})
        _pilots["chat"] = pilotfish.Pilot(model="smollm2-135m", config=config, use_entrypoints=False)
    return _pilots["chat"]


def _retrieval_pilot():
    import pilotfish

    if "rag" not in _pilots:
        _pilots["rag"] = pilotfish.Pilot(model="smollm2-135m", plugins=[MiniLMRetriever(bbc_articles())],
                                         use_entrypoints=False)
    return _pilots["rag"]


class _Capabilities:
    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False

    @property
    def enable_vcr_tests(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True


class TestPilotChatModelUnit(_Capabilities, ChatModelUnitTests):
    @property
    def chat_model_class(self):
        return PilotChatModel

    @property
    def chat_model_params(self):
        return {"model": "smollm2-135m"}


@pytest.mark.real
@_mark_async
class TestPilotChatModelIntegration(_Capabilities, ChatModelIntegrationTests):
    """Every applicable standard test, through a pilotfish chain around the real SmolLM2."""

    @property
    def chat_model_class(self):
        return PilotChatModel

    @property
    def chat_model_params(self):
        return {"pilot": _chat_pilot()}


@pytest.mark.real
@_mark_async
class TestPilotRetrieverIntegration(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self):
        return PilotRetriever

    @property
    def retriever_constructor_params(self):
        return {"pilot": _retrieval_pilot(), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "mobile phone technology"
