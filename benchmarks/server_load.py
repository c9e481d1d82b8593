"""Load on `pilotfish serve`: 50 concurrent clients on loopback, p50/p95 latency, throughput, and
a check that every response belongs to its own request.

    python benchmarks/server_load.py [--clients 50] [--model smollm2-135m] [--max-tokens 8]

Two runs against real `pilotfish serve` processes (started here on free ports), driven by the real
`openai` async client:

1. ``fake`` model (echo): measures the server itself (HTTP, JSON, SSE, the host); a response
   matches when it echoes its own question.
2. the packaged small model, greedy: first one client asks the questions one at a time (the
   baseline, and the reference answers), then all clients at once; a response matches when it
   equals the answer to the same question asked alone. No dropped, duplicated or crossed answers.

Half of the clients stream (SSE), half do not.
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


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pilotfish", "serve", "--model", model, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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


async def one(client, model: str, question: str, stream: bool, max_tokens: int) -> tuple[str, float, str]:
    start = time.perf_counter()
    messages = [{"role": "user", "content": question}]
    if stream:
        s = await client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, stream=True)
        parts = [c.choices[0].delta.content or "" async for c in s if c.choices]
        text = "".join(parts)
    else:
        r = await client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens)
        text = r.choices[0].message.content
    return question, time.perf_counter() - start, text


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
    results = [await one(client, model, q, i % 2 == 1, max_tokens) for i, q in enumerate(questions)]
    wall = time.perf_counter() - start
    await client.close()
    return results, wall


def report(label: str, results: list, wall: float, expected: dict[str, str]) -> None:
    lat = sorted(r[1] for r in results)
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    ok = sum(1 for q, _, text in results if text == expected[q])
    answered = {q for q, _, _ in results}
    print(f"{label:<34} {len(results):>4} {p50 * 1000:9.0f} {p95 * 1000:9.0f} {len(results) / wall:9.2f} "
          f"{ok:>4}/{len(results)}  {'OK' if ok == len(results) and len(answered) == len(results) else 'MISMATCH'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("PILOTFISH_LOG_LEVEL", "warning")

    print(f"{args.clients} concurrent clients on loopback (half streaming); latency per request in ms\n")
    print(f"{'run':<34} {'reqs':>4} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>9} {'match':>9}")

    fake_q = [f"client {i}: echo token-{i * 7919 % 10007}" for i in range(args.clients)]
    proc, base = start_server("fake")
    try:
        results, wall = asyncio.run(load(base, "fake", fake_q, 64))
        report("fake model (server overhead)", results, wall, {q: f"echo: {q}" for q in fake_q})
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    subjects = ["cats", "the sea", "football", "coffee", "trains", "rain", "music", "the moon", "bread", "chess"]
    real_q = [f"Write one short sentence about {subjects[i % len(subjects)]} (request {i})." for i in range(args.clients)]
    proc, base = start_server(args.model)
    try:
        # baseline: the same server, one request at a time (also the reference answers)
        seq_results, seq_wall = asyncio.run(load_sequential(base, args.model, real_q, args.max_tokens))
        baseline = {q: text for q, _, text in seq_results}
        report(f"{args.model}, 1 client sequential", seq_results, seq_wall, baseline)
        results, wall = asyncio.run(load(base, args.model, real_q, args.max_tokens))
        report(f"{args.model}, {args.clients} concurrent", results, wall, baseline)
    finally:
        proc.terminate()
        proc.wait(timeout=20)

if __name__ == "__main__":
    main()
