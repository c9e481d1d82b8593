"""Load on `pilotfish serve`: concurrent clients on loopback, batched against one at a time.

    python benchmarks/server_load.py [--clients 20] [--models smollm2-135m qwen2.5-1.5b] [--max-tokens 32]

Real `pilotfish serve` processes (started here on free ports), driven by the real `openai` async client
(half of the clients stream):

1. ``fake`` model (echo): the server's own cost (HTTP, JSON, SSE, the host); a response matches when it
   echoes its own question.
2. each real model twice, with all clients at once: *serialized* (``PILOTFISH_PARALLEL=2``: one
   generation sequence, so requests decode one after another) and *batched* (``PILOTFISH_PARALLEL=9``:
   eight sequences decoded together in one ``llama_decode`` per step). Reported: p50/p95 latency,
   throughput in generated tokens/s summed over clients, and how many batched answers equal the
   serialized answer to the same question (batching sums in another order, so a near-tie can break the
   other way late in an answer; none may be dropped or crossed). Goal (issue 13): batched throughput
   at least 2x serialized.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, parallel: int = 4) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PILOTFISH_PARALLEL": str(parallel)}
    proc = subprocess.Popen([sys.executable, "-m", "pilotfish", "serve", "--model", model, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"serve did not start: {proc.stderr.read() if proc.poll() is not None else 'timeout'}")
        time.sleep(0.2)


async def one(client, model: str, question: str, stream: bool, max_tokens: int) -> tuple[str, float, str, int]:
    start = time.perf_counter()
    messages = [{"role": "user", "content": question}]
    tokens = 0
    if stream:
        s = await client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, stream=True,
                                                 stream_options={"include_usage": True})
        parts = []
        async for c in s:
            if c.choices:
                parts.append(c.choices[0].delta.content or "")
            if getattr(c, "usage", None):
                tokens = c.usage.completion_tokens
        text = "".join(parts)
    else:
        r = await client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)
        text = r.choices[0].message.content
        tokens = r.usage.completion_tokens
    return question, time.perf_counter() - start, text, tokens


async def load(base: str, model: str, questions: list[str], max_tokens: int) -> tuple[list, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=600)
    start = time.perf_counter()
    results = await asyncio.gather(*[one(client, model, q, i % 2 == 1, max_tokens) for i, q in enumerate(questions)])
    wall = time.perf_counter() - start
    await client.close()
    return results, wall


async def load_sequential(base: str, model: str, questions: list[str], max_tokens: int) -> tuple[list, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=600)
    start = time.perf_counter()
    results = [await one(client, model, q, i % 2 == 1, max_tokens) for i, q in enumerate(questions)]  # noqa
    wall = time.perf_counter() - start
    await client.close()
    return results, wall


def report(label: str, results: list, wall: float, expected: dict[str, str] | None) -> float:
    """Print one row; return the throughput in generated tokens/s."""
    lat = sorted(r[1] for r in results)
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    tokens = sum(r[3] for r in results)
    answered = {r[0] for r in results}
    same = "-" if expected is None else f"{sum(1 for r in results if r[2] == expected[r[0]])}/{len(results)}"
    lost = len(results) - len(answered) + sum(1 for r in results if not r[2])
    print(f"{label:<40} {len(results):>4} {p50:8.1f} {p95:8.1f} {tokens / wall:9.1f} {len(results) / wall:7.2f} "
          f"{same:>7} {lost:>5}  load {os.getloadavg()[0]:.2f}", flush=True)
    return tokens / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-1.5b"])
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("PILOTFISH_LOG_LEVEL", "warning")

    print(f"{args.clients} concurrent clients on loopback (half streaming); seconds per request\n")
    print(f"{'run':<40} {'reqs':>4} {'p50 s':>8} {'p95 s':>8} {'tok/s':>9} {'req/s':>7} {'same':>7} {'lost':>5}")

    fake_q = [f"client {i}: echo token-{i * 7919 % 10007}" for i in range(args.clients)]
    proc, base = start_server("fake")
    try:
        results, wall = asyncio.run(load(base, "fake", fake_q, 64))
        report("fake model (server overhead)", results, wall, {q: f"echo: {q}" for q in fake_q})
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    subjects = ["cats", "the sea", "football", "coffee", "trains", "rain", "music", "the moon", "bread", "chess"]
    real_q = [f"Write two sentences about {subjects[i % len(subjects)]} (request {i})." for i in range(args.clients)]
    for model in args.models:
        rates = {}
        reference: dict[str, str] | None = None
        for mode, parallel in (("serialized", 2), ("batched", 9)):
            proc, base = start_server(model, parallel)
            try:
                results, wall = asyncio.run(load(base, model, real_q, args.max_tokens))
                rates[mode] = report(f"{model}, {mode} (PILOTFISH_PARALLEL={parallel})", results, wall, reference)
                reference = reference or {r[0]: r[2] for r in results}
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        print(f"  {model}: batched / serialized throughput = {rates['batched'] / rates['serialized']:.2f}x")


if __name__ == "__main__":
    main()
