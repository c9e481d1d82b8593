"""Cross-site protection of the server, as ASGI middleware (:class:`Guard`), checked before any route,
the way Jupyter and Ollama do it:

- ``Host`` must name this server: ``localhost`` (and ``*.localhost``), a loopback address, or one
  of ``allowed_hosts`` (``pilotfish serve`` adds its ``--host`` and each ``--allowed-host``; an
  entry ``0.0.0.0`` or ``::`` allows any IP-literal Host, ``*`` allows any Host). Otherwise 400
  ``host_not_allowed`` (this stops DNS rebinding: a rebound name is never an IP literal).
- A request whose ``Origin`` is not the server's own (``http://<Host>``) gets 403
  ``origin_not_allowed``, unless the origin is in ``allowed_origins`` (``--allow-origin``,
  repeatable; ``*`` for any). Only such configured origins get CORS headers (and preflights).
- ``POST`` requires ``Content-Type: application/json`` (415 ``unsupported_media_type``), so a
  web page cannot send a "simple" cross-site form or ``text/plain`` request.
"""

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from .protocol import APIError


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


def normal_origin(origin: str) -> str:
    return origin.strip().lower().rstrip("/")


class Guard:
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
            await send_error(send, APIError(
                400, f"the Host header {host[:100]!r} is not allowed here (start the server with "
                     "--allowed-host NAME to serve that name)", code="host_not_allowed"))
            return
        cors: str | None = None
        origin = headers.get("origin")
        if origin is not None:
            normal = normal_origin(origin)
            same = host and normal in (f"http://{host.lower()}", f"https://{host.lower()}")
            if not same:
                if "*" not in self.origins and normal not in self.origins:
                    await send_error(send, APIError(
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
                await send_error(send, APIError(
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


async def send_error(send: Any, err: APIError, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(err.body()).encode()
    await send({"type": "http.response.start", "status": err.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
