"""A deterministic model for tests of the host and of plugins (no weights, no torch)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from pilotfish.core.errors import ContextLengthError
from pilotfish.core.models import LanguageModel, apply_stop
from pilotfish.core.types import Generation, Message


class FakeModel(LanguageModel):
    """A deterministic model for tests of the host and of plugins (no weights, no torch).

    Args:
        responses: a list of replies used in turn (cycled), or a callable
            ``messages -> str``; by default the reply is ``"echo: <last user message>"``.
        logprob: the log-probability reported for every token.

    Tokens are whitespace-separated words; streaming yields them one by one.
    """

    def __init__(
        self,
        responses: Sequence[str] | Callable[[list[Message]], str] | None = None,
        *,
        model_id: str = "fake",
        logprob: float = -0.1,
        context_window: int = 4096,
    ):
        self.model_id = model_id
        self._responses = responses
        self._i = 0
        self._lock = threading.Lock()
        self.logprob = logprob
        self.context_window = context_window
        self.calls: list[list[Message]] = []

    def _reply(self, messages: list[Message]) -> str:
        if callable(self._responses):
            return self._responses(messages)
        if self._responses:
            with self._lock:
                reply = self._responses[self._i % len(self._responses)]
                self._i += 1
            return reply
        last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return f"echo: {last}"

    def _generate(self, messages, params, *, on_token, logits_processors):  # type: ignore[no-untyped-def]
        with self._lock:
            self.calls.append(messages)
        prompt_tokens = sum(len(m["content"].split()) for m in messages)
        if prompt_tokens > self.context_window:
            raise ContextLengthError(
                f"the prompt is {prompt_tokens} tokens; {self.model_id} accepts {self.context_window}"
            )
        words = self._reply(messages).split(" ")
        out: list[str] = []
        finish = "stop"
        for i, word in enumerate(words):
            if i >= params.max_tokens:
                finish = "length"
                break
            piece = word if i == 0 else " " + word
            candidate, hit = apply_stop("".join(out) + piece, params.stop)
            if hit:
                if on_token and len(candidate) > len("".join(out)):
                    on_token(candidate[len("".join(out)):])
                out = [candidate]
                break
            out.append(piece)
            if on_token:
                on_token(piece)
        text = "".join(out)
        n = len(text.split())
        return Generation(
            text=text,
            model=self.model_id,
            tokens=text.split(),
            logprobs=[self.logprob] * n,
            prompt_tokens=prompt_tokens,
            completion_tokens=n,
            finish_reason=finish,
        )
