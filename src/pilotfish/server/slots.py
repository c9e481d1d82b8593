"""The running slots and the queue of the server: at most ``running_max`` requests run and ``queue_max``
wait; beyond that 503 ``server_busy``. A slot is freed only when its run has really stopped."""

import asyncio
import collections

from .protocol import APIError


class Ticket:
    """A request's place: running (``granted``) or waiting. Freed when its last holder lets go
    (the request, and the worker thread once one runs its answer)."""

    def __init__(self, slots: "Slots", granted: bool):
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


class Slots:
    """At most ``running_max`` requests run and ``queue_max`` wait (all on the event loop's thread)."""

    def __init__(self, running_max: int, queue_max: int):
        self.running_max, self.queue_max = running_max, queue_max
        self.running = 0
        self.waiting: collections.deque[Ticket] = collections.deque()

    def enter(self) -> Ticket:
        if self.running < self.running_max and not self.waiting:
            self.running += 1
            return Ticket(self, granted=True)
        if len(self.waiting) < self.queue_max:
            ticket = Ticket(self, granted=False)
            self.waiting.append(ticket)
            return ticket
        raise APIError(503, f"the server is busy ({self.running} requests running, {len(self.waiting)} "
                            "waiting); retry later", type="server_error", code="server_busy")

    def free(self, ticket: Ticket) -> None:
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
