"""An OpenAI-compatible HTTP server for a pilotfish chain.

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

``pilotfish serve`` is added by :mod:`pilotfish.server.plugin`. FastAPI and uvicorn are imported
only when a server is made.

No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations
(``request: Request``, imported lazily inside :func:`create_app`) at run time.
"""

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError
from pilotfish.core.types import answer_payload

from .protocol import APIError, error_for, finish_of, logprobs_of, parse_chat_request, usage_of

DEFAULT_MAX_BODY = 1_000_000
"""Largest request body in bytes (413 above it)."""
STATIC_DIR = Path(__file__).with_name("static")


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
                                  "finish_reason": finish_of(answer)}
        if options["logprobs"]:
            choice["logprobs"] = logprobs_of(answer)
        return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [choice], "usage": usage_of(answer), "pilotfish": answer_payload(answer)}

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
                    yield chunk({}, finish_of(answer), pilotfish=answer_payload(answer))
                    if options["include_usage"]:
                        data = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                                "model": model, "choices": [], "usage": usage_of(answer)}
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


__all__ = ["APIError", "ServerThread", "answer_payload", "create_app", "error_for", "parse_chat_request"]
