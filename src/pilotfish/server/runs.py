"""How the server runs the chain for its requests: a running slot (or a place in the queue) per
request, the chain in a worker thread, the request's deadline, cancellation when the client goes
away, and the SSE stream of a ``"stream": true`` request. Counters go to the app's ``state``
(``active_streams``, ``cancelled_streams``, ``cancelled_requests``, ``timed_out``,
``busy_refusals``; ``slots`` is the current :class:`~pilotfish.server.slots.Slots`).
"""

import asyncio
import contextvars
import json
import threading
import time
from concurrent.futures import Executor
from typing import Any

from pilotfish.core.manager import DEFAULT_PLUGINS
from pilotfish.core.types import answer_payload

from .protocol import APIError, error_for, finish_of, usage_of
from .slots import Slots, Ticket

POLL_S = 0.1
"""How often a waiting request checks its deadline and its client's connection."""


class Cancelled(Exception):
    """Raised from the token callback when the client went away: stops the generation."""


class ClientGone(Exception):
    """A non-streaming request's client disconnected while its answer was being made."""


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


class Runner:
    """Runs ``pilot`` for the requests of one app (see the module docstring)."""

    def __init__(self, pilot: Any, state: Any, executor: Executor, request_timeout: float,
                 max_concurrent: int, max_queue: int):
        self.pilot, self.state, self.executor = pilot, state, executor
        self.request_timeout = request_timeout
        self.max_concurrent, self.max_queue = max_concurrent, max_queue
        self._slots_by_loop: dict[int, Slots] = {}
        self._counter_lock = threading.Lock()
        for name in ("active_streams", "cancelled_streams", "cancelled_requests", "timed_out", "busy_refusals"):
            setattr(state, name, 0)

    def count(self, name: str, by: int = 1) -> None:
        with self._counter_lock:
            setattr(self.state, name, getattr(self.state, name) + by)

    def slots(self) -> Slots:
        loop = asyncio.get_running_loop()
        if id(loop) not in self._slots_by_loop:
            self._slots_by_loop.clear()
            self._slots_by_loop[id(loop)] = Slots(self.max_concurrent, self.max_queue)
        self.state.slots = self._slots_by_loop[id(loop)]
        return self._slots_by_loop[id(loop)]

    def enter(self) -> Ticket:
        try:
            return self.slots().enter()
        except APIError:
            self.count("busy_refusals")
            raise

    def timeout_error(self) -> APIError:
        return APIError(504, f"the request took longer than the server's limit of {self.request_timeout:g} s "
                             "(request_timeout); its generation was stopped", type="server_error", code="timeout")

    async def wait_done(self, future: "asyncio.Future[Any]", deadline: float, cancelled: threading.Event,
                        request: Any | None) -> None:
        """Wait for ``future``; past ``deadline`` raise 504, if the client left raise :class:`ClientGone`
        (both set ``cancelled``, which stops the generation at its next token)."""
        loop = asyncio.get_running_loop()
        while not future.done():
            remaining = deadline - loop.time()
            if remaining <= 0:
                cancelled.set()
                self.count("timed_out")
                raise self.timeout_error()
            await asyncio.wait({future}, timeout=min(POLL_S, remaining))
            if not future.done() and request is not None and await request.is_disconnected():
                cancelled.set()
                self.count("cancelled_requests")
                raise ClientGone()

    def start_run(self, ticket: Ticket, messages: list[dict[str, str]], params: dict[str, Any],
                  on_token: Any) -> "asyncio.Future[Any]":
        """Run the chain in a worker; the ticket is held until the worker has really finished."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        ticket.hold()
        future = loop.run_in_executor(self.executor,
                                      lambda: ctx.run(self.pilot.run, messages, on_token=on_token, **params))

        def finished(f: "asyncio.Future[Any]") -> None:
            ticket.release()
            if not f.cancelled():
                f.exception()  # retrieved: no "exception was never retrieved" warnings

        future.add_done_callback(finished)
        return future

    async def stream(self, model: str, messages: list[dict[str, str]], params: dict[str, Any],
                     options: dict[str, Any], completion_id: str, ticket: Ticket, deadline: float) -> Any:
        """The SSE chunks of a streamed completion (held until verified when :func:`verification_enabled`)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()
        hold = verification_enabled(self.pilot)  # send no text before the answer has passed verification

        def on_token(piece: str) -> None:
            if cancelled.is_set():
                raise Cancelled()
            if not hold:
                loop.call_soon_threadsafe(queue.put_nowait, piece)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            data = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data)}\n\n"

        def error_event(err: APIError) -> str:
            return f"data: {json.dumps(err.body())}\n\n"

        self.count("active_streams")
        streamed = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            try:
                await self.wait_done(ticket.ready, deadline, cancelled, None)
                future = self.start_run(ticket, messages, params, on_token)
                while True:
                    while not queue.empty():
                        streamed = True
                        yield chunk({"content": queue.get_nowait()})
                    if future.done():  # its pieces were queued before it finished: all sent
                        break
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        cancelled.set()
                        self.count("timed_out")
                        raise self.timeout_error()
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
                self.count("cancelled_streams")
            raise
        finally:
            cancelled.set()
            self.count("active_streams", -1)
