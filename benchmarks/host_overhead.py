"""What does the host cost? ``Pilot.run`` with six no-op plugins (one per pipeline hook) against
calling the fake model directly, and against the same six steps as a LangChain ``RunnableSequence``
of no-op lambdas around the same fake model, measured side by side in one run.

    python benchmarks/host_overhead.py [--runs 5000]

Prints microseconds per run and the ratios. Goal: pilotfish's overhead below LangChain's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pilotfish
from pilotfish import FakeModel, hookimpl


class NoOps:
    """One no-op implementation per pipeline hook (each returns None: 'no opinion')."""

    name = "noops"

    @hookimpl
    def before_prompt(self, request):
        return None

    @hookimpl
    def route(self, request):
        return None

    @hookimpl
    def retrieve(self, request, k):
        return None

    @hookimpl
    def generate(self, request, messages, model):
        return None

    @hookimpl
    def verify(self, request, text, documents):
        return None

    @hookimpl
    def repair(self, request, text, verdicts):
        return None


def timeit(fn, runs: int, repeats: int = 5) -> float:
    """Best-of-``repeats`` median microseconds per call."""
    for _ in range(min(200, runs)):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(runs):
            fn()
        samples.append((time.perf_counter() - t0) / runs * 1e6)
    return min(samples), statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5000)
    args = ap.parse_args()

    model = FakeModel()
    question = "What is the capital of France?"
    pilot = pilotfish.Pilot(model=model, plugins=[NoOps()], use_entrypoints=False)
    assert pilot.run(question).text == f"echo: {question}"

    def direct():
        return model.generate([{"role": "user", "content": question}])

    from langchain_core.runnables import RunnableLambda

    def noop(x):
        return x

    chain = (
        RunnableLambda(noop)  # before_prompt
        | RunnableLambda(noop)  # route
        | RunnableLambda(noop)  # retrieve
        | RunnableLambda(lambda q: model.generate([{"role": "user", "content": q}]).text)  # generate
        | RunnableLambda(noop)  # verify
        | RunnableLambda(noop)  # repair
    )
    assert chain.invoke(question) == f"echo: {question}"

    rows = [
        ("fake model called directly", timeit(direct, args.runs)),
        ("pilotfish Pilot.run, 6 no-op plugins", timeit(lambda: pilot.run(question), args.runs)),
        ("LangChain RunnableSequence, 6 steps", timeit(lambda: chain.invoke(question), max(args.runs // 5, 200))),
    ]
    base = rows[0][1][0]
    print(f"{'':40} {'best us/run':>12} {'median':>10} {'overhead us':>12}")
    for name, (best, median) in rows:
        print(f"{name:40} {best:12.1f} {median:10.1f} {best - base:12.1f}")
    pf = rows[1][1][0] - base
    lc = rows[2][1][0] - base
    print(f"\npilotfish overhead {pf:.1f} us vs LangChain {lc:.1f} us: LangChain/pilotfish = {lc / pf:.1f}x")


if __name__ == "__main__":
    main()
