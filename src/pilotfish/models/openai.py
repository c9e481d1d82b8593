"""Any OpenAI-compatible endpoint as a pilotfish model (OpenAI, vLLM, Ollama, another pilotfish).

Needs the ``server`` extra (the ``openai`` client).

Model ids: ``openai:<model>`` or ``openai:<model>@<base url>``, e.g. ``openai:gpt-4o-mini`` or
``openai:pilotfish@http://127.0.0.1:8000/v1``. Without a base URL in the id,
``$PILOTFISH_OPENAI_BASE_URL`` then ``$OPENAI_BASE_URL`` then OpenAI's own URL is used. The key
comes from ``$PILOTFISH_OPENAI_API_KEY`` then ``$OPENAI_API_KEY``; a loopback endpoint needs none.

Token log-probs are asked for (``logprobs=true``) so confidence-based plugins (cascade) work;
an endpoint that refuses them is retried once without, and remembered.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from pilotfish.core.errors import ContextLengthError, InputError, MissingDependencyError, ModelError
from pilotfish.core.models import LanguageModel, apply_stop
from pilotfish.core.types import Generation

__all__ = ["OpenAIModel"]


def _is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


class OpenAIModel(LanguageModel):
    """A pilotfish model over an OpenAI-compatible chat completions endpoint.

    Args:
        model: the model name the endpoint serves.
        base_url: the endpoint (``.../v1``); default from the environment (see module doc).
        api_key: the bearer key; default from the environment.
        timeout, max_retries: given to the ``openai`` client.
        logprobs: ask for token log-probs.
        extra_body: extra JSON fields for every request (vendor options).
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 2, logprobs: bool = True,
                 extra_body: dict[str, Any] | None = None, model_id: str | None = None):
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError("openai", "server", "OpenAIModel") from exc
        if not model:
            raise ModelError("OpenAIModel needs a model name")
        base_url = base_url or os.environ.get("PILOTFISH_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        api_key = api_key or os.environ.get("PILOTFISH_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            if base_url and _is_loopback(base_url):
                api_key = "none"
            else:
                raise ModelError(
                    f"openai:{model}: no API key; set OPENAI_API_KEY (or PILOTFISH_OPENAI_API_KEY), "
                    "or point at a local endpoint with openai:<model>@http://127.0.0.1:<port>/v1"
                )
        self._openai = openai
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self.model = model
        self.base_url = str(self.client.base_url)
        self.model_id = model_id or f"openai:{model}"
        self.logprobs = logprobs
        self.extra_body = dict(extra_body or {})

    @classmethod
    def from_id(cls, spec: str) -> OpenAIModel:
        """Build from the part of an ``openai:`` id after the colon: ``<model>[@<base url>]``."""
        model, sep, base_url = spec.partition("@")
        if sep and not base_url.startswith(("http://", "https://")):
            raise ModelError(f"openai:{spec}: the part after '@' must be an http(s) base URL")
        return cls(model, base_url=base_url or None, model_id=f"openai:{spec}")

    def _request(self, messages: list[dict[str, str]], params: Any, stream: bool) -> dict[str, Any]:
        req: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            req["stop"] = params.stop[:4]  # OpenAI accepts at most 4; the rest are applied here
        if params.seed is not None:
            req["seed"] = params.seed
        if self.logprobs:
            req["logprobs"] = True
        if stream:
            req["stream"] = True
            req["stream_options"] = {"include_usage": True}
        if self.extra_body:
            req["extra_body"] = self.extra_body
        return req

    def _call(self, req: dict[str, Any]) -> Any:
        o = self._openai
        try:
            return self.client.chat.completions.create(**req)
        except o.BadRequestError as exc:
            text = str(exc)
            if req.get("logprobs") and "logprob" in text.lower():
                self.logprobs = False
                return self._call({k: v for k, v in req.items() if k != "logprobs"})
            if "context" in text.lower() and "length" in text.lower():
                raise ContextLengthError(f"{self.model_id}: {text}") from None
            raise InputError(f"{self.model_id}: the endpoint refused the request: {text}") from None
        except o.AuthenticationError as exc:
            raise ModelError(f"{self.model_id}: authentication failed at {self.base_url} (check the API key): {exc}") from None
        except o.NotFoundError as exc:
            raise ModelError(f"{self.model_id}: not found at {self.base_url}: {exc}") from None
        except o.APIConnectionError as exc:
            raise ModelError(f"{self.model_id}: cannot reach {self.base_url}: {exc}") from None
        except o.APIError as exc:
            raise ModelError(f"{self.model_id}: the endpoint failed: {exc}") from None

    def _generate(self, messages, params, *, on_token, logits_processors):  # type: ignore[no-untyped-def]
        stream = on_token is not None
        response = self._call(self._request(messages, params, stream))
        tokens: list[str] = []
        logprobs: list[float] = []
        usage = None
        finish = "stop"
        model_name = self.model_id
        extra: dict[str, Any] | None = None
        if stream:
            parts: list[str] = []
            try:
                for chunk in response:
                    usage = chunk.usage or usage
                    model_name = chunk.model or model_name
                    more = getattr(chunk, "model_extra", None) or {}
                    if more.get("pilotfish") is not None:
                        extra = more["pilotfish"]
                    for choice in chunk.choices:
                        piece = choice.delta.content if choice.delta else None
                        if piece:
                            parts.append(piece)
                            on_token(piece)
                        if choice.logprobs and choice.logprobs.content:
                            for lp in choice.logprobs.content:
                                tokens.append(lp.token)
                                logprobs.append(lp.logprob)
                        if choice.finish_reason:
                            finish = choice.finish_reason
            finally:
                response.close()
            text = "".join(parts)
        else:
            choice = response.choices[0]
            text = choice.message.content or ""
            finish = choice.finish_reason or "stop"
            usage = response.usage
            model_name = response.model or model_name
            if choice.logprobs and choice.logprobs.content:
                tokens = [lp.token for lp in choice.logprobs.content]
                logprobs = [lp.logprob for lp in choice.logprobs.content]
            extra = (getattr(response, "model_extra", None) or {}).get("pilotfish")
        text, hit = apply_stop(text, params.stop)
        return Generation(
            text=text,
            model=self.model_id,
            tokens=tokens or None,
            logprobs=logprobs or None,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or len(tokens) or len(text.split())),
            finish_reason="stop" if hit else ("length" if finish == "length" else "stop"),
            metadata={"endpoint_model": model_name, **({"pilotfish": extra} if extra else {})},
        )
