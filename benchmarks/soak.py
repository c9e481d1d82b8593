"""Soak test of `pilotfish serve`: many clients for a long time, good and bad requests mixed.

    python benchmarks/soak.py [--minutes 15] [--clients 30] [--model smollm2-135m] [--max-tokens 8]

Starts `pilotfish serve` as a subprocess on a free loopback port and runs ``--clients`` concurrent
clients (httpx, each its own connection pool) for ``--minutes``. Each request is one of:

- ``normal``: a chat completion (200 with a message);
- ``stream``: the same with ``"stream": true`` (200, SSE ending in ``[DONE]``);
- ``oversized``: ``max_tokens`` over the server's limit (400 ``max_tokens_too_large``) or a body over
  ``--max-body`` (413 ``request_too_large``);
- ``malformed``: broken JSON (400 ``invalid_json``), no ``messages`` (400), a ``text/plain`` body (415);
- ``cancelled``: the client hangs up (a non-streaming request after 0.5 s, or a stream after its
  first chunk); the server must stop that generation and go on;
- ``cross-origin``: a foreign ``Origin`` (403) or ``Host`` (400).

It reports requests **served**, **refused with the right status** (the expected 4xx, or 503 with
``Retry-After`` / 504 when the server is overloaded, counted apart), **cancelled** by the client as
intended, and **lost** (no answer, a wrong status, a 500, a garbled body; the goal is 0), and the
server's RSS at the start (after a warm-up request) and at the end (growth goal: under 10%).
Every loop is bounded in count (``--max-requests`` per client) and in time; everything stays on
127.0.0.1. Exit status 1 when something was lost or RSS grew 10% or more.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import socket
import subprocess
import sys
import time

import httpx
import psutil

KINDS = {"normal": 30, "stream": 25, "oversized": 10, "malformed": 15, "cancelled": 10, "cross-origin": 10}
MAX_TOKENS_LIMIT = 64
MAX_BODY = 100_000
QUESTIONS = ["What is the capital of France?", "Name a colour of the sky.", "What is two plus two?",
             "Say hello in Spanish.", "What do bees make?", "Which planet is red?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, request_timeout: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "pilotfish", "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port),
           "--max-tokens-limit", str(MAX_TOKENS_LIMIT), "--max-body", str(MAX_BODY),
           "--request-timeout", str(request_timeout)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"serve did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.3)


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def _body(model: str, max_tokens: int, **extra) -> dict:
    return {"model": model, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": random.choice(QUESTIONS)}], **extra}


def _code(r: httpx.Response) -> str | None:
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


async def one(client: httpx.AsyncClient, kind: str, base: str, model: str, max_tokens: int,
              timeout: float) -> tuple[str, str]:
    """(outcome, detail): outcome is served, refused, busy, cancelled or lost."""
    url = base + "/v1/chat/completions"
    try:
        if kind == "normal":
            r = await client.post(url, json=_body(model, max_tokens), timeout=timeout)
            if r.status_code == 200:
                msg = r.json()["choices"][0]["message"]
                ok = isinstance(msg["content"], str) and r.json()["choices"][0]["finish_reason"] in ("stop", "length")
                return ("served", "") if ok else ("lost", f"bad body {r.text[:200]}")
            return _overload_or_lost(r)
        if kind == "stream":
            async with client.stream("POST", url, json=_body(model, max_tokens, stream=True), timeout=timeout) as r:
                if r.status_code != 200:
                    await r.aread()
                    return _overload_or_lost(r)
                done = finished = False
                async for line in r.aiter_lines():
                    if line == "data: [DONE]":
                        done = True
                    elif line.startswith("data: {"):
                        data = json.loads(line[6:])
                        if "error" in data:
                            code = data["error"].get("code")
                            return ("busy", "504-in-stream") if code == "timeout" else ("lost", f"stream error {data}")
                        if data["choices"] and data["choices"][0]["finish_reason"]:
                            finished = True
                return ("served", "") if done and finished else ("lost", "stream ended early")
        if kind == "oversized":
            if random.random() < 0.5:
                r = await client.post(url, json=_body(model, random.choice([MAX_TOKENS_LIMIT + 1, 10**12])),
                                      timeout=30)
                return _expect(r, 400, "max_tokens_too_large")
            big = _body(model, max_tokens)
            big["messages"][0]["content"] = "x" * (MAX_BODY + 10)
            r = await client.post(url, json=big, timeout=30)
            return _expect(r, 413, "request_too_large")
        if kind == "malformed":
            choice = random.randrange(3)
            if choice == 0:
                r = await client.post(url, content=b'{"model": "pilotfish", "messages": [',
                                      headers={"content-type": "application/json"}, timeout=30)
                return _expect(r, 400, "invalid_json")
            if choice == 1:
                r = await client.post(url, json={"model": model}, timeout=30)
                return _expect(r, 400, "missing_messages")
            r = await client.post(url, content=json.dumps(_body(model, max_tokens)),
                                  headers={"content-type": "text/plain"}, timeout=30)
            return _expect(r, 415, "unsupported_media_type")
        if kind == "cancelled":
            if random.random() < 0.5:
                try:
                    r = await client.post(url, json=_body(model, max_tokens), timeout=0.5)
                except httpx.TimeoutException:
                    return "cancelled", "hung up after 0.5 s"
                return ("served", "answered within 0.5 s") if r.status_code == 200 else _overload_or_lost(r)
            async with client.stream("POST", url, json=_body(model, max_tokens, stream=True), timeout=timeout) as r:
                if r.status_code != 200:
                    await r.aread()
                    return _overload_or_lost(r)
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        break  # hang up after the first chunk
            return "cancelled", "hung up mid-stream"
        if kind == "cross-origin":
            if random.random() < 0.5:
                r = await client.post(url, json=_body(model, max_tokens), headers={"origin": "http://evil.example"},
                                      timeout=30)
                return _expect(r, 403, "origin_not_allowed")
            r = await client.post(url, json=_body(model, max_tokens), headers={"host": "evil.example:8000"},
                                  timeout=30)
            return _expect(r, 400, "host_not_allowed")
        raise ValueError(kind)
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        return "lost", f"{type(exc).__name__}: {exc}"


def _expect(r: httpx.Response, status: int, code: str) -> tuple[str, str]:
    if r.status_code == status and _code(r) == code:
        return "refused", f"{status} {code}"
    return "lost", f"expected {status} {code}, got {r.status_code} {r.text[:200]}"


def _overload_or_lost(r: httpx.Response) -> tuple[str, str]:
    if r.status_code == 503 and r.headers.get("retry-after") and _code(r) == "server_busy":
        return "busy", "503 server_busy"
    if r.status_code == 504 and _code(r) == "timeout":
        return "busy", "504 timeout"
    return "lost", f"status {r.status_code}: {r.text[:200]}"


async def client_loop(i: int, base: str, model: str, max_tokens: int, end: float, max_requests: int,
                      timeout: float, stats: dict, lost: list) -> None:
    rng = random.Random(i)
    kinds, weights = list(KINDS), list(KINDS.values())
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=2)) as client:
        for _ in range(max_requests):
            if time.monotonic() >= end:
                return
            kind = rng.choices(kinds, weights)[0]
            outcome, detail = await one(client, kind, base, model, max_tokens, timeout)
            stats[(kind, outcome)] += 1
            if outcome == "lost":
                lost.append(f"{kind}: {detail}")
            await asyncio.sleep(rng.uniform(0.05, 0.3))


async def soak(args: argparse.Namespace, base: str) -> tuple[dict, list]:
    stats: dict = collections.Counter()
    lost: list[str] = []
    end = time.monotonic() + args.minutes * 60
    await asyncio.gather(*(client_loop(i, base, args.model_name, args.max_tokens, end, args.max_requests,
                                       args.timeout, stats, lost) for i in range(args.clients)))
    return stats, lost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--max-requests", type=int, default=5000, help="per client (a bound on the loop)")
    ap.add_argument("--request-timeout", type=float, default=300.0, help="the server's --request-timeout")
    ap.add_argument("--timeout", type=float, default=400.0, help="a client's timeout for an answer")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    args.model_name = "pilotfish"
    random.seed(args.seed)
    os.environ.setdefault("PILOTFISH_LOG_LEVEL", "warning")

    proc, base = start_server(args.model, args.request_timeout)
    try:
        rss_boot = rss_mb(proc.pid)
        warm = httpx.post(base + "/v1/chat/completions", json=_body("pilotfish", args.max_tokens), timeout=args.timeout)
        if warm.status_code != 200:
            raise SystemExit(f"warm-up request failed: {warm.status_code} {warm.text[:300]}")
        rss_start = rss_mb(proc.pid)
        t0 = time.monotonic()
        stats, lost = asyncio.run(soak(args, base))
        elapsed = time.monotonic() - t0
        time.sleep(2)  # let cancelled generations stop
        healthy = httpx.get(base + "/health", timeout=10).status_code == 200
        after = httpx.post(base + "/v1/chat/completions", json=_body("pilotfish", args.max_tokens), timeout=args.timeout)
        rss_end = rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    totals = collections.Counter()
    for (_, outcome), n in stats.items():
        totals[outcome] += n
    growth = (rss_end - rss_start) / rss_start * 100
    print(f"soak: {args.clients} clients, {elapsed / 60:.1f} min, model {args.model}, max_tokens {args.max_tokens}")
    print(f"{'kind':<14}{'served':>8}{'refused':>9}{'busy':>6}{'cancelled':>11}{'lost':>6}")
    for kind in KINDS:
        row = [stats[(kind, o)] for o in ("served", "refused", "busy", "cancelled", "lost")]
        print(f"{kind:<14}{row[0]:>8}{row[1]:>9}{row[2]:>6}{row[3]:>11}{row[4]:>6}")
    total = sum(totals.values())
    print(f"{'total':<14}{totals['served']:>8}{totals['refused']:>9}{totals['busy']:>6}{totals['cancelled']:>11}"
          f"{totals['lost']:>6}   ({total} requests, {total / elapsed:.1f} req/s)")
    print(f"server RSS: {rss_boot:.0f} MB at boot, {rss_start:.0f} MB after warm-up, {rss_end:.0f} MB at the end "
          f"({growth:+.1f}%)")
    print(f"after the soak: /health {'ok' if healthy else 'FAILED'}, a normal request {after.status_code}")
    for line in lost[:20]:
        print("lost:", line)
    summary = {"clients": args.clients, "minutes": round(elapsed / 60, 2), "model": args.model, "requests": total,
               **{k: totals[k] for k in ("served", "refused", "busy", "cancelled", "lost")},
               "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_end, 1), "rss_growth_pct": round(growth, 2),
               "healthy_after": healthy and after.status_code == 200}
    print(json.dumps(summary))
    if totals["lost"] or growth >= 10 or not summary["healthy_after"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
