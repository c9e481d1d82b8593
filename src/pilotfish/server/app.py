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

- ``Host`` must name this server: ``localhost`` (and ``*.localhost``), a loopback address, or one
  of ``allowed_hosts`` (``pilotfish serve`` adds its ``--host`` and each ``--allowed-host``; an
  entry ``0.0.0.0`` or ``::`` allows any IP-literal Host, ``*`` allows any Host). Otherwise 400
  ``host_not_allowed`` (this stops DNS rebinding: a rebound name is never an IP literal).
- A request whose ``Origin`` is not the server's own (``http://<Host>``) gets 403
  ``origin_not_allowed``, unless the origin is in ``allowed_origins`` (``--allow-origin``,
  repeatable; ``*`` for any). Only such configured origins get CORS headers (and preflights).
- ``POST`` requires ``Content-Type: application/json`` (415 ``unsupported_media_type``), so a
  web page cannot send a "simple" cross-site form or ``text/plain`` request.
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
only when a server is made.

No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations
(``request: Request``, imported lazily inside :func:`create_app`) at run time.
"""

import asyncio
import collections
import contextlib
import contextvars
import hmac
import ipaddress
import json
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError
from pilotfish.core.manager import DEFAULT_PLUGINS
from pilotfish.core.types import answer_payload

from .protocol import APIError, error_for, finish_of, logprobs_of, parse_chat_request, usage_of

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
POLL_S = 0.1
"""How often a waiting request checks its deadline and its client's connection."""
STATIC_DIR = Path(__file__).with_name("static")


class _Cancelled(Exception):
    """Raised from the token callback when the client went away: stops the generation."""


class _ClientGone(Exception):
    """A non-streaming request's client disconnected while its answer was being made."""


def _was_cancelled(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, _Cancelled):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def verification_enabled(pilot: Any) -> bool:
    """Whether ``pilot`` has a ``verify`` or ``repair`` implementation besides the built-in plugins
    (then a stream is held until the answer has passed)."""
    pm = getattr(pilot, "pm", None)
    for hook in ("verify", "repair"):
        caller = getattr(pm.hook, hook, None) if pm is not None else None
        if caller is None:
            continue
        if any(impl.plugin_name not in DEFAULT_PLUGINS for impl in caller.get_hookimpls()):
            return True
    return False


# --- Host and Origin checks -----------------------------------------------------------------------


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower-cased, without port or IPv6 brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


class HostPolicy:
    """Which ``Host`` headers a server answers (see the module docstring)."""

    def __init__(self, allowed_hosts: Iterable[str] = ()):
        names = {host_name(h) for h in allowed_hosts if h.strip()}
        self.any_host = "*" in names
        self.any_ip = bool(names & {"0.0.0.0", "::"})
        self.names = names - {"*", "0.0.0.0", "::"}

    def allows(self, header: str) -> bool:
        name = host_name(header)
        if self.any_host or name in self.names or name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or self.any_ip


def _normal_origin(origin: str) -> str:
    return origin.strip().lower().rstrip("/")


class _Guard:
    """ASGI middleware: Host, Origin (and CORS for configured origins) and POST content type."""

    def __init__(self, app: Any, hosts: HostPolicy, origins: frozenset[str]):
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if host and not self.hosts.allows(host):
            await _send_error(send, APIError(
                400, f"the Host header {host[:100]!r} is not allowed here (start the server with "
                     "--allowed-host NAME to serve that name)", code="host_not_allowed"))
            return
        cors: str | None = None
        origin = headers.get("origin")
        if origin is not None:
            normal = _normal_origin(origin)
            same = host and normal in (f"http://{host.lower()}", f"https://{host.lower()}")
            if not same:
                if "*" not in self.origins and normal not in self.origins:
                    await _send_error(send, APIError(
                        403, f"cross-origin requests are refused (Origin {origin[:100]!r}); start the server "
                             "with --allow-origin ORIGIN to allow one", code="origin_not_allowed"))
                    return
                cors = origin
        method = scope.get("method", "GET")
        extra: list[tuple[bytes, bytes]] = []
        if cors is not None:
            extra = [(b"access-control-allow-origin", cors.encode("latin-1")), (b"vary", b"Origin")]
            if method == "OPTIONS" and "access-control-request-method" in headers:
                await send({"type": "http.response.start", "status": 204, "headers": extra + [
                    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                    (b"access-control-allow-headers", b"Authorization, Content-Type"),
                    (b"access-control-max-age", b"600")]})
                await send({"type": "http.response.body", "body": b""})
                return
        if method == "POST":
            ctype = headers.get("content-type", "").partition(";")[0].strip().lower()
            if ctype != "application/json":
                await _send_error(send, APIError(
                    415, f"the request body must be JSON with 'Content-Type: application/json' "
                         f"(got {ctype[:60]!r})", code="unsupported_media_type"), extra)
                return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _send_error(send: Any, err: APIError, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(err.body()).encode()
    await send({"type": "http.response.start", "status": err.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


# --- the running slots and the queue --------------------------------------------------------------


class _Ticket:
    """A request's place: running (``granted``) or waiting. Freed when its last holder lets go
    (the request, and the worker thread once one runs its answer)."""

    def __init__(self, slots: "_Slots", granted: bool):
        self.slots = slots
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if granted:
            self.ready.set_result(None)
        self.holders = 1
        self.freed = False

    def hold(self) -> None:
        self.holders += 1

    def release(self) -> None:
        self.holders -= 1
        if self.holders <= 0 and not self.freed:
            self.freed = True
            self.slots.free(self)


class _Slots:
    """At most ``running_max`` requests run and ``queue_max`` wait (all on the event loop's thread)."""

    def __init__(self, running_max: int, queue_max: int):
        self.running_max, self.queue_max = running_max, queue_max
        self.running = 0
        self.waiting: collections.deque[_Ticket] = collections.deque()

    def enter(self) -> _Ticket:
        if self.running < self.running_max and not self.waiting:
            self.running += 1
            return _Ticket(self, granted=True)
        if len(self.waiting) < self.queue_max:
            ticket = _Ticket(self, granted=False)
            self.waiting.append(ticket)
            return ticket
        raise APIError(503, f"the server is busy ({self.running} requests running, {len(self.waiting)} "
                            "waiting); retry later", type="server_error", code="server_busy")

    def free(self, ticket: _Ticket) -> None:
        if not ticket.ready.done():  # it left the queue before its turn
            ticket.ready.cancel()
            try:
                self.waiting.remove(ticket)
            except ValueError:
                pass
            return
        while self.waiting:  # hand the running slot to the next one waiting
            nxt = self.waiting.popleft()
            if not nxt.ready.done():
                nxt.ready.set_result(None)
                return
        self.running -= 1


# --- the app --------------------------------------------------------------------------------------


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
    app.add_middleware(_Guard, hosts=HostPolicy(allowed_hosts),  # type: ignore[arg-type]
                       origins=frozenset(_normal_origin(o) for o in allowed_origins if o.strip()))
    app.state.pilot = pilot
    app.state.active_streams = 0
    app.state.cancelled_streams = 0
    app.state.cancelled_requests = 0
    app.state.timed_out = 0
    app.state.busy_refusals = 0
    app.state.executor = executor
    slots_by_loop: dict[int, _Slots] = {}
    counter_lock = threading.Lock()

    def count(name: str, by: int = 1) -> None:
        with counter_lock:
            setattr(app.state, name, getattr(app.state, name) + by)

    def slots() -> _Slots:
        loop = asyncio.get_running_loop()
        if id(loop) not in slots_by_loop:
            slots_by_loop.clear()
            slots_by_loop[id(loop)] = _Slots(max_concurrent, max_queue)
        app.state.slots = slots_by_loop[id(loop)]
        return slots_by_loop[id(loop)]

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

    def timeout_error() -> APIError:
        return APIError(504, f"the request took longer than the server's limit of {request_timeout:g} s "
                             "(request_timeout); its generation was stopped", type="server_error", code="timeout")

    async def wait_done(future: "asyncio.Future[Any]", deadline: float, cancelled: threading.Event,
                        request: Request | None) -> None:
        """Wait for ``future``; past ``deadline`` raise 504, if the client left raise ``_ClientGone``
        (both set ``cancelled``, which stops the generation at its next token)."""
        loop = asyncio.get_running_loop()
        while not future.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                cancelled.set()
                count("timed_out")
                raise timeout_error()
            await asyncio.wait({future}, timeout=min(POLL_S, remaining))
            if not future.done() and request is not None and await request.is_disconnected():
                cancelled.set()
                count("cancelled_requests")
                raise _ClientGone()

    def start_run(ticket: _Ticket, messages: list[dict[str, str]], params: dict[str, Any],
                  on_token: Any) -> "asyncio.Future[Any]":
        """Run the chain in a worker; the ticket is held until the worker has really finished."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        ticket.hold()
        future = loop.run_in_executor(executor, lambda: ctx.run(pilot.run, messages, on_token=on_token, **params))

        def finished(f: "asyncio.Future[Any]") -> None:
            ticket.release()
            if not f.cancelled():
                f.exception()  # retrieved: no "exception was never retrieved" warnings

        future.add_done_callback(finished)
        return future

    def enter() -> _Ticket:
        try:
            return slots().enter()
        except APIError:
            count("busy_refusals")
            raise

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
        ticket = enter()
        if options["stream"]:
            try:
                gen = stream_completion(model, messages, params, options, completion_id, ticket, deadline)
                return _TicketStream(gen, ticket, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            except BaseException:
                ticket.release()
                raise
        cancelled = threading.Event()

        def on_token(piece: str) -> None:
            if cancelled.is_set():
                raise _Cancelled()

        try:
            await wait_done(ticket.ready, deadline, cancelled, request)
            future = start_run(ticket, messages, params, on_token)
            await wait_done(future, deadline, cancelled, request)
            answer = future.result()
        except _ClientGone:
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

        def __init__(self, content: Any, ticket: _Ticket, **kwargs: Any):
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

    async def stream_completion(model: str, messages: list[dict[str, str]], params: dict[str, Any],
                                options: dict[str, Any], completion_id: str, ticket: _Ticket, deadline: float) -> Any:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()
        hold = verification_enabled(pilot)  # send no text before the answer has passed verification

        def on_token(piece: str) -> None:
            if cancelled.is_set():
                raise _Cancelled()
            if not hold:
                loop.call_soon_threadsafe(queue.put_nowait, piece)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            data = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data)}\n\n"

        def error_event(err: APIError) -> str:
            return f"data: {json.dumps(err.body())}\n\n"

        count("active_streams")
        streamed = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            try:
                await wait_done(ticket.ready, deadline, cancelled, None)
                future = start_run(ticket, messages, params, on_token)
                while True:
                    while not queue.empty():
                        streamed = True
                        yield chunk({"content": queue.get_nowait()})
                    if future.done():  # its pieces were queued before it finished: all sent
                        break
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        cancelled.set()
                        count("timed_out")
                        raise timeout_error()
                    getter = asyncio.ensure_future(queue.get())
                    try:
                        await asyncio.wait({getter, future}, timeout=min(POLL_S, remaining),
                                           return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not getter.done():
                            getter.cancel()
                    if getter.done() and not getter.cancelled():
                        streamed = True
                        yield chunk({"content": getter.result()})
            except APIError as err:  # the deadline passed
                yield error_event(err)
                yield "data: [DONE]\n\n"
                return
            try:
                answer = future.result()
            except Exception as exc:
                yield error_event(error_for(exc))
                yield "data: [DONE]\n\n"
                return
            if (hold or not streamed) and answer.text:
                # the verified answer as one delta (or the text of a generate plugin that does not stream)
                yield chunk({"content": answer.text})
            yield chunk({}, finish_of(answer), pilotfish=answer_payload(answer))
            if options["include_usage"]:
                data = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": model, "choices": [], "usage": usage_of(answer)}
                yield f"data: {json.dumps(data)}\n\n"
            yield "data: [DONE]\n\n"
        except BaseException:
            # the client disconnected (the generator was cancelled or closed): stop generating
            if not cancelled.is_set():
                cancelled.set()
                count("cancelled_streams")
            raise
        finally:
            cancelled.set()
            count("active_streams", -1)

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
