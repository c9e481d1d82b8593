"""An OpenAI-compatible HTTP server for a pilotfish chain.

``pilotfish serve [--config pilotfish.toml] [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--ui]``

Endpoints:

- ``POST /v1/chat/completions``: OpenAI's chat completions, with SSE streaming
  (``"stream": true``, optional ``stream_options.include_usage``). Each response (and the last
  stream chunk) also carries ``"pilotfish": {citations, verdicts, route, repairs, usage, trace}``.
- ``GET /v1/models``: the served model names (``pilotfish`` and the chain's model id).
- ``GET /health``: ``{"status": "ok", "model": ...}``. Explicitly exempt from the API key (a
  liveness probe; it says nothing but the status and the model id). The Host and Origin checks
  below still apply.
- ``GET /`` with ``--ui``: a small chat page (streamed answer, numbered citations, verdict badges).

**Streaming and verification.** When the chain has a ``verify`` or ``repair`` plugin (any
implementation of those hooks besides the built-in ``core``/``models`` plugins), a stream is
*held*: no text is sent until the answer has been through the verify/repair loop; then the final
text (the repaired answer, or the refusal) goes out as one delta, followed by the usual last chunk.
A client never shows text that verification rejected. Without such plugins the answer streams
token by token.

**Cross-site protection** (the way Jupyter and Ollama do it), checked before any route:

- the ``Host``, ``Origin`` and ``Content-Type`` checks of :mod:`pilotfish.server.guard` (see its doc);
- ``--api-key``: ``Authorization: Bearer KEY`` on ``/v1/*``, compared in constant time
  (``hmac.compare_digest``).

**Limits.** ``max_tokens`` above ``max_tokens_limit`` (default 4096) gets 400 naming the limit (a
request without ``max_tokens`` gets the chain's default, capped at the limit). A request that
takes longer than ``request_timeout`` seconds (default 300, queueing included) gets 504
``timeout`` (a stream ends with an error event of that code) and its generation is stopped at the
next token. A non-streaming request whose client disconnects is cancelled the same way (the
server polls the connection while the run is in a worker); a stream is cancelled when its client
hangs up. At most ``max_concurrent`` requests run at once (default 8), at most ``max_queue``
(default 64) wait; beyond that 503 ``server_busy`` with a ``Retry-After`` header. A slot is
freed only when its run has really stopped.

Errors are OpenAI-style objects ``{"error": {"message", "type", "param", "code"}}``: malformed
JSON or missing ``messages`` 400, unknown model 404, wrong or missing bearer key 401, a body
over the limit 413. A failure inside the chain (500) is logged on the server
(``logging.getLogger("pilotfish.server")``) with an error id; the client gets a generic message
with that id, never paths or internals.

Requests run concurrently, each on its own run state (pilotfish keeps trace and usage in context
variables); a local model serialises its own calls.

``pilotfish serve`` is added by :mod:`pilotfish.server.plugin`. FastAPI and uvicorn are imported
only when a server is made. The pieces: :mod:`~pilotfish.server.guard` (Host, Origin, content type),
:mod:`~pilotfish.server.slots` (running slots and queue), :mod:`~pilotfish.server.runs` (the chain in
a worker, deadlines, cancellation, streaming), :mod:`~pilotfish.server.protocol` (OpenAI request and
response shapes), :mod:`~pilotfish.server.thread` (:class:`ServerThread`).

No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations
(``request: Request``, imported lazily inside :func:`create_app`) at run time.
"""

import asyncio
import contextlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError
from pilotfish.core.types import answer_payload

from .guard import Guard, HostPolicy, normal_origin
from .protocol import APIError, error_for, finish_of, logprobs_of, parse_chat_request, usage_of
from .runs import Cancelled, ClientGone, Runner, verification_enabled
from .slots import Ticket
from .thread import ServerThread

DEFAULT_MAX_BODY = 1_000_000
"""Largest request body in bytes (413 above it)."""
DEFAULT_MAX_TOKENS_LIMIT = 4096
"""Largest ``max_tokens`` a request may ask for (400 above it)."""
DEFAULT_REQUEST_TIMEOUT = 300.0
"""Seconds a request may take, queueing included (504 after it)."""
DEFAULT_MAX_CONCURRENT = 8
"""Requests running at once."""
DEFAULT_MAX_QUEUE = 64
"""Requests waiting for a running slot (503 beyond it)."""
RETRY_AFTER_S = 2
STATIC_DIR = Path(__file__).with_name("static")


def create_app(pilot: Any, *, api_key: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY,
               ui: bool = False, served_name: str = "pilotfish", allowed_hosts: Iterable[str] = (),
               allowed_origins: Iterable[str] = (), max_tokens_limit: int = DEFAULT_MAX_TOKENS_LIMIT,
               request_timeout: float = DEFAULT_REQUEST_TIMEOUT, max_concurrent: int = DEFAULT_MAX_CONCURRENT,
               max_queue: int = DEFAULT_MAX_QUEUE) -> Any:
    """The FastAPI app serving ``pilot`` (a :class:`~pilotfish.Pilot`); the options are described in
    the module docstring."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
        from starlette.exceptions import HTTPException as StarletteHTTPException
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "fastapi", "server", "pilotfish serve") from exc
    if max_tokens_limit < 1 or request_timeout <= 0 or max_concurrent < 1 or max_queue < 0:
        raise ValueError("max_tokens_limit, request_timeout and max_concurrent must be positive, max_queue >= 0")

    model_id = pilot.model if isinstance(pilot.model, str) else str(getattr(pilot.model, "model_id", "model"))
    served = {served_name, model_id}
    created = int(time.time())
    key_bytes = api_key.encode() if api_key is not None else None
    executor = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="pilotfish-serve")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="pilotfish", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.add_middleware(Guard, hosts=HostPolicy(allowed_hosts),  # type: ignore[arg-type]
                       origins=frozenset(normal_origin(o) for o in allowed_origins if o.strip()))
    app.state.pilot = pilot
    app.state.executor = executor
    runner = Runner(pilot, app.state, executor, request_timeout, max_concurrent, max_queue)

    def error_response(err: APIError) -> Any:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        if err.status in (429, 503):
            headers = {"Retry-After": str(RETRY_AFTER_S)}
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        return error_response(error_for(exc))  # logged with an id; the client gets the id only

    def check_key(request: Request) -> None:
        if key_bytes is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not hmac.compare_digest(token.strip().encode(), key_bytes) or scheme.lower() != "bearer":
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

    def bound_max_tokens(params: dict[str, Any]) -> None:
        asked = params.get("max_tokens")
        if asked is not None and asked > max_tokens_limit:
            raise APIError(400, f"'max_tokens' is {asked}; this server's limit is {max_tokens_limit} "
                                "(max_tokens_limit)", param="max_tokens", code="max_tokens_too_large")
        default = getattr(pilot, "generation_defaults", {}).get("max_tokens")
        if asked is None and isinstance(default, int) and default > max_tokens_limit:
            params["max_tokens"] = max_tokens_limit

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
        deadline = asyncio.get_running_loop().time() + request_timeout
        body = await read_json(request)
        model, messages, params, options = parse_chat_request(body, served)
        bound_max_tokens(params)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        ticket = runner.enter()
        if options["stream"]:
            try:
                gen = runner.stream(model, messages, params, options, completion_id, ticket, deadline)
                return _TicketStream(gen, ticket, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            except BaseException:
                ticket.release()
                raise
        cancelled = threading.Event()

        def on_token(piece: str) -> None:
            if cancelled.is_set():
                raise Cancelled()

        try:
            await runner.wait_done(ticket.ready, deadline, cancelled, request)
            future = runner.start_run(ticket, messages, params, on_token)
            await runner.wait_done(future, deadline, cancelled, request)
            answer = future.result()
        except ClientGone:
            return JSONResponse({"error": {"message": "client closed the request", "type": "invalid_request_error",
                                           "param": None, "code": "client_closed"}}, status_code=499)
        except APIError:
            raise
        except Exception as exc:
            raise error_for(exc) from None
        finally:
            ticket.release()
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": answer.text},
                                  "finish_reason": finish_of(answer)}
        if options["logprobs"]:
            choice["logprobs"] = logprobs_of(answer)
        return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [choice], "usage": usage_of(answer), "pilotfish": answer_payload(answer)}

    class _TicketStream(StreamingResponse):
        """A stream that lets go of its ticket when the response is over, even one never started."""

        def __init__(self, content: Any, ticket: Ticket, **kwargs: Any):
            super().__init__(content, **kwargs)
            self.ticket = ticket

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                self.ticket.release()
                aclose = getattr(self.body_iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

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


__all__ = ["APIError", "HostPolicy", "ServerThread", "answer_payload", "create_app", "error_for", "parse_chat_request",
           "verification_enabled"]
