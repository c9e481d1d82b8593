"""An OpenAI-compatible HTTP server for a pilotfish chain, and the integrations plugin.

``pilotfish serve [--config pilotfish.toml] [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--ui]``

Endpoints:

- ``POST /v1/chat/completions``: OpenAI's chat completions, with SSE streaming
  (``"stream": true``, optional ``stream_options.include_usage``). Each response (and the last
  stream chunk) also carries ``"pilotfish": {citations, verdicts, route, repairs, usage, trace}``.
- ``GET /v1/models``: the served model names (``pilotfish`` and the chain's model id).
- ``GET /health``: ``{"status": "ok"}`` (no key needed).
- ``GET /`` with ``--ui``: a small chat page (streamed answer, numbered citations, verdict badges).

Errors are OpenAI-style objects ``{"error": {"message", "type", "param", "code"}}``: malformed
JSON or missing ``messages`` 400, unknown model 404, wrong or missing bearer key 401, a body
over the limit 413. Requests run concurrently, each on its own run state (pilotfish keeps
trace and usage in context variables); a local model serialises its own calls. A client that
disconnects mid-stream stops its generation at the next token; the others go on.

This module is also the ``integrations`` plugin (entry point): ``register_models`` adds the id
schemes ``openai:<model>[@<base url>]``, ``langchain:<module>:<attr>`` and
``llamaindex:<module>:<attr>``; ``register_commands`` adds ``pilotfish serve``. It imports
FastAPI, uvicorn, openai and LangChain only when they are used.

No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations
(``request: Request``, imported lazily inside :func:`create_app`) at run time.
"""

import asyncio
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pilotfish.core.errors import (
    ConfigError,
    ContextLengthError,
    InputError,
    MissingDependencyError,
    ModelNotFoundError,
    PilotfishError,
)
from pilotfish.core.hookspecs import hookimpl

DEFAULT_MAX_BODY = 1_000_000
"""Largest request body in bytes (413 above it)."""
STATIC_DIR = Path(__file__).with_name("static")


# --- the answer as JSON (shared by the server and the LangChain / LlamaIndex adapters) ---------


def _num(value: Any) -> float | None:
    """Plugins may hand back numpy scalars; JSON wants plain floats."""
    return None if value is None else float(value)


def answer_payload(answer: Any) -> dict[str, Any]:
    """pilotfish's extra fields of a response: citations, verdicts, route, repairs, usage, trace.

    Plain JSON types only (numpy scores are converted), so it can be sent as is.
    """
    route = answer.route
    return {
        "text": answer.text,
        "route": {"model": route.model, "reason": route.reason, "plugin": route.plugin} if route else None,
        "citations": [
            {"index": i, "id": d.id, "doc_id": d.doc_id, "title": d.title, "text": d.text, "score": _num(d.score),
             "retriever": d.retriever}
            for i, d in enumerate(answer.documents, start=1)
        ],
        "verdicts": [
            {"verifier": v.verifier, "passed": bool(v.passed), "label": v.label, "claim": v.claim, "score": _num(v.score),
             "evidence": v.evidence, "document_id": v.document_id, "span": [int(x) for x in v.span] if v.span else None,
             "message": v.message}
            for v in answer.verdicts
        ],
        "passed": bool(answer.passed),
        "repairs": [
            {"round": r.round, "plugin": r.plugin, "action": r.action, "before": r.before, "after": r.after, "note": r.note}
            for r in answer.repairs
        ],
        "usage": {m: {"calls": u.calls, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                      "latency_s": round(u.latency_s, 4)} for m, u in answer.usage.models.items()},
        "trace": [{"hook": e.hook, "plugin": e.plugin, "duration_s": round(e.duration_s, 6), "status": e.status}
                  for e in answer.trace],
        "latency_s": round(answer.latency_s, 4),
    }


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
    """A pilotfish exception as the API error a client should see (no tracebacks)."""
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
    if isinstance(exc, PilotfishError):
        return APIError(500, str(exc), type="server_error", code="pilotfish_error")
    return APIError(500, f"internal error: {type(exc).__name__}", type="server_error", code="internal_error")


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


def _usage(answer: Any) -> dict[str, int]:
    p, c = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _logprobs(answer: Any) -> dict[str, Any] | None:
    gen = answer.generation
    if gen is None or not gen.logprobs or not gen.tokens or len(gen.tokens) != len(gen.logprobs):
        return None
    return {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8")), "top_logprobs": []}
                        for t, lp in zip(gen.tokens, gen.logprobs, strict=True)]}


def _finish(answer: Any) -> str:
    reason = answer.generation.finish_reason if answer.generation else "stop"
    return reason if reason in ("stop", "length") else "stop"


class _Cancelled(Exception):
    """Raised from the token callback when the client went away: stops the generation."""


# --- the app --------------------------------------------------------------------------------------


def create_app(pilot: Any, *, api_key: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY,
               ui: bool = False, served_name: str = "pilotfish") -> Any:
    """The FastAPI app serving ``pilot`` (a :class:`~pilotfish.Pilot`)."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
        from starlette.exceptions import HTTPException as StarletteHTTPException
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "fastapi", "server", "pilotfish serve") from exc

    model_id = pilot.model if isinstance(pilot.model, str) else str(getattr(pilot.model, "model_id", "model"))
    served = {served_name, model_id}
    created = int(time.time())
    app = FastAPI(title="pilotfish", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.pilot = pilot
    app.state.active_streams = 0
    app.state.cancelled_streams = 0
    counter_lock = threading.Lock()

    def error_response(err: APIError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> Any:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(APIError(exc.status_code, str(exc.detail), code=code))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Any:
        return error_response(APIError(400, str(exc.errors())))

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != api_key:
            raise APIError(401, "invalid or missing API key (send 'Authorization: Bearer <key>')",
                           code="invalid_api_key")

    async def read_json(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            raise APIError(413, f"the request body is {length} bytes; the limit is {max_body_bytes}",
                           code="request_too_large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise APIError(413, f"the request body is over the limit of {max_body_bytes} bytes",
                               code="request_too_large")
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks) or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise APIError(400, f"malformed JSON in the request body: {exc}", code="invalid_json") from None

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok", "model": model_id}

    @app.get("/v1/models")
    async def list_models(request: Request) -> Any:
        check_key(request)
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created, "owned_by": "pilotfish"}
                                           for name in sorted(served)]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        check_key(request)
        body = await read_json(request)
        model, messages, params, options = parse_chat_request(body, served)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if options["stream"]:
            return StreamingResponse(stream_completion(request, model, messages, params, options, completion_id),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            answer = await pilot.arun(messages, **params)
        except Exception as exc:
            raise error_for(exc) from None
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": answer.text},
                                  "finish_reason": _finish(answer)}
        if options["logprobs"]:
            choice["logprobs"] = _logprobs(answer)
        return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [choice], "usage": _usage(answer), "pilotfish": answer_payload(answer)}

    async def stream_completion(request: Request, model: str, messages: list[dict[str, str]], params: dict[str, Any],
                                options: dict[str, Any], completion_id: str) -> Any:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()
        done = object()

        def on_token(piece: str) -> None:
            if cancelled.is_set():
                raise _Cancelled()
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        def work() -> Any:
            try:
                if cancelled.is_set():  # the client left while the request waited for a worker
                    raise _Cancelled()
                answer = pilot.run(messages, on_token=on_token, **params)
                loop.call_soon_threadsafe(queue.put_nowait, ("answer", answer))
            except BaseException as exc:
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            data = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data)}\n\n"

        with counter_lock:
            app.state.active_streams += 1
        future = loop.run_in_executor(None, work)
        streamed = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, str):
                    streamed = True
                    yield chunk({"content": item})
                elif item[0] == "error":
                    err = error_for(item[1])
                    yield f"data: {json.dumps(err.body())}\n\n"
                elif item[0] == "answer":
                    answer = item[1]
                    if not streamed and answer.text:
                        yield chunk({"content": answer.text})  # a generate plugin that does not stream
                    yield chunk({}, _finish(answer), pilotfish=answer_payload(answer))
                    if options["include_usage"]:
                        data = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                                "model": model, "choices": [], "usage": _usage(answer)}
                        yield f"data: {json.dumps(data)}\n\n"
            yield "data: [DONE]\n\n"
        except BaseException:
            # the client disconnected (the generator was cancelled or closed): stop generating
            cancelled.set()
            with counter_lock:
                app.state.cancelled_streams += 1
            raise
        finally:
            cancelled.set()
            with counter_lock:
                app.state.active_streams -= 1
            future.add_done_callback(lambda f: f.exception())

    if ui:
        @app.get("/")
        async def index() -> Any:
            return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

        @app.get("/static/{name}")
        async def static(name: str) -> Any:
            path = STATIC_DIR / name
            if "/" in name or name.startswith(".") or not path.is_file():
                raise APIError(404, f"no static file {name!r}", code="not_found")
            media = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}.get(path.suffix)
            return FileResponse(path, media_type=media)

    return app


class ServerThread:
    """Run an app with uvicorn in a background thread (tests, benchmarks, notebooks).

    ``with ServerThread(app) as server: server.base_url`` -> ``http://127.0.0.1:<free port>``.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"):
        import socket

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.host, self.port = host, port
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.base_url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --- the plugin: model id schemes and the serve command -------------------------------------------


def _openai_model(spec: str) -> Any:
    from pilotfish.adapters.openai import OpenAIModel

    return OpenAIModel.from_id(spec)


def _langchain_model(spec: str) -> Any:
    from pilotfish.adapters.langchain import load_langchain_model

    return load_langchain_model(spec)


def _llamaindex_model(spec: str) -> Any:
    from pilotfish.adapters.llamaindex import load_llamaindex_model

    return load_llamaindex_model(spec)


@hookimpl
def register_models(register: Any) -> None:
    register.scheme("openai", _openai_model,
                    description="any OpenAI-compatible endpoint: openai:<model>[@<base url>] (key: OPENAI_API_KEY)")
    register.scheme("langchain", _langchain_model, description="a LangChain chat model: langchain:<module>:<attr>")
    register.scheme("llamaindex", _llamaindex_model, description="a LlamaIndex LLM: llamaindex:<module>:<attr>")


@hookimpl
def register_commands(cli: Any) -> None:
    import click

    @cli.command()
    @click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
                  help="pilotfish.toml (default: ./pilotfish.toml or [tool.pilotfish] in ./pyproject.toml)")
    @click.option("--model", "-m", default=None, help="model id (default from config)")
    @click.option("--plugin", "-p", "plugins", multiple=True, help="enable a plugin by name (repeatable)")
    @click.option("--index", "-i", type=click.Path(file_okay=False), default=None, help="answer from this RAG index")
    @click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (loopback by default)")
    @click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
    @click.option("--api-key", default=None, envvar="PILOTFISH_API_KEY",
                  help="require 'Authorization: Bearer KEY' (also $PILOTFISH_API_KEY)")
    @click.option("--max-body", type=click.IntRange(min=1), default=DEFAULT_MAX_BODY, show_default=True,
                  help="largest request body in bytes (413 above)")
    @click.option("--ui", is_flag=True, help="serve the chat page at /")
    @click.option("--preload/--no-preload", default=True, show_default=True, help="load the model before serving")
    def serve(config_path: str | None, model: str | None, plugins: tuple[str, ...], index: str | None, host: str,
              port: int, api_key: str | None, max_body: int, ui: bool, preload: bool) -> None:
        """Serve the configured chain over an OpenAI-compatible HTTP API (and a chat page with --ui)."""
        try:
            import uvicorn
        except ImportError as exc:
            raise MissingDependencyError("uvicorn", "server", "pilotfish serve") from exc
        from pilotfish.cli import build_pilot

        pilot = build_pilot(config_path, model, plugins, index=index)
        if preload:
            loaded = pilot.get_model()
            click.echo(f"model {getattr(loaded, 'model_id', loaded)} loaded", err=True)
        app = create_app(pilot, api_key=api_key, max_body_bytes=max_body, ui=ui)
        if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
            click.echo(f"Warning: serving on {host} without --api-key", err=True)
        click.echo(f"pilotfish serving on http://{host}:{port}" + (" (chat page at /)" if ui else ""), err=True)
        try:
            uvicorn.run(app, host=host, port=port, log_level=os.environ.get("PILOTFISH_LOG_LEVEL", "warning"))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None


__all__ = ["APIError", "ServerThread", "answer_payload", "create_app", "error_for", "parse_chat_request",
           "register_commands", "register_models"]
