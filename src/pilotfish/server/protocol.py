"""The OpenAI chat-completions protocol as the server speaks it: request parsing and validation,
OpenAI-style error objects, and the usage / log-prob / finish fields of a response."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pilotfish.core.errors import ContextLengthError, InputError, ModelNotFoundError, PilotfishError

logger = logging.getLogger("pilotfish.server")

# --- OpenAI-style errors --------------------------------------------------------------------------


class APIError(Exception):
    """An error answered as ``{"error": {...}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def error_for(exc: BaseException) -> APIError:
    """A pilotfish exception as the API error a client should see (no tracebacks; a 500 is logged and
    answered with an error id only, see :func:`internal_error`)."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, ModelNotFoundError):
        return APIError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, ContextLengthError):
        return APIError(400, str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, InputError):
        return APIError(400, str(exc), code="invalid_input")
    cause = exc.__cause__
    if isinstance(cause, (InputError, ContextLengthError)):
        return error_for(cause)
    return internal_error(exc)


def internal_error(exc: BaseException) -> APIError:
    """A 500 for the client: a generic message with an error id. The details (message, traceback;
    they may hold file paths and other internals) go to the server's log under that id."""
    error_id = f"err-{uuid.uuid4().hex[:16]}"
    logger.error("request failed [%s]: %s: %s", error_id, type(exc).__name__, exc,
                 exc_info=(type(exc), exc, exc.__traceback__))
    code = "pilotfish_error" if isinstance(exc, PilotfishError) else "internal_error"
    return APIError(500, f"internal server error (error id {error_id}; the details are in the server's log)",
                    type="server_error", code=code)


# --- request parsing ------------------------------------------------------------------------------


def parse_chat_request(body: Any, served: set[str]) -> tuple[str, list[dict[str, str]], dict[str, Any], dict[str, Any]]:
    """Validate an OpenAI chat request: (model, messages, generation params, options)."""
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise APIError(400, "'model' is required (see GET /v1/models)", param="model", code="missing_model")
    if model not in served:
        raise APIError(404, f"the model {model!r} does not exist; served: {', '.join(sorted(served))}",
                       param="model", code="model_not_found")
    raw = body.get("messages")
    if raw is None:
        raise APIError(400, "'messages' is required", param="messages", code="missing_messages")
    if not isinstance(raw, list) or not raw:
        raise APIError(400, "'messages' must be a non-empty list", param="messages")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or "role" not in m:
            raise APIError(400, f"messages[{i}] must be an object with 'role' and 'content'", param=f"messages[{i}]")
        role = "system" if m["role"] == "developer" else m["role"]
        if role not in ("system", "user", "assistant"):
            raise APIError(400, f"messages[{i}]: role {m['role']!r} is not supported (system, user, assistant)",
                           param=f"messages[{i}].role")
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if not isinstance(part, dict) or part.get("type") != "text":
                    raise APIError(400, f"messages[{i}]: only text content parts are supported",
                                   param=f"messages[{i}].content")
                parts.append(str(part.get("text", "")))
            content = "".join(parts)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise APIError(400, f"messages[{i}].content must be a string", param=f"messages[{i}].content")
        messages.append({"role": role, "content": content})
    params: dict[str, Any] = {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise APIError(400, "'max_tokens' must be a positive integer", param="max_tokens")
        params["max_tokens"] = max_tokens
    for name, low in (("temperature", 0.0), ("top_p", 0.0)):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
                raise APIError(400, f"'{name}' must be a number >= {low}", param=name)
            params[name] = float(value)
    stop = body.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise APIError(400, "'stop' must be a string or a list of strings", param="stop")
        params["stop"] = stop
    seed = body.get("seed")
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise APIError(400, "'seed' must be an integer", param="seed")
        params["seed"] = seed
    n = body.get("n", 1)
    if n not in (1, None):
        raise APIError(400, "only n=1 is supported", param="n")
    stream_options = body.get("stream_options") or {}
    options = {
        "stream": bool(body.get("stream", False)),
        "include_usage": bool(isinstance(stream_options, dict) and stream_options.get("include_usage")),
        "logprobs": bool(body.get("logprobs", False)),
    }
    return model, messages, params, options


def usage_of(answer: Any) -> dict[str, int]:
    p, c = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def logprobs_of(answer: Any) -> dict[str, Any] | None:
    gen = answer.generation
    if gen is None or not gen.logprobs or not gen.tokens or len(gen.tokens) != len(gen.logprobs):
        return None
    return {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8")), "top_logprobs": []}
                        for t, lp in zip(gen.tokens, gen.logprobs, strict=True)]}


def finish_of(answer: Any) -> str:
    reason = answer.generation.finish_reason if answer.generation else "stop"
    return reason if reason in ("stop", "length") else "stop"
