"""What the LangChain adapter costs per call: PilotChatModel over a fake LangChain chat model vs
the bare fake model (and the other adapter layers), in microseconds per call.

    python benchmarks/adapter_overhead.py [--calls 2000]

Every row answers the same one-word prompt with LangChain's FakeListChatModel (no model work), so
the difference to the bare row is the adapter plus the pilotfish host (hooks, trace, usage).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable


def timed(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` mean microseconds per call (after a warm-up)."""
    for _ in range(min(50, calls)):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    import pilotfish
    from pilotfish.adapters.langchain import LangChainModel, PilotChatModel, PilotRunnable

    fake = FakeListChatModel(responses=["ok"])
    wrapped = PilotChatModel(model=fake)
    wrapped_quiet = PilotChatModel(model=fake, trace_events=False)
    lc_model = LangChainModel(fake)
    pilot = pilotfish.Pilot(model=lc_model, use_entrypoints=False)
    runnable = PilotRunnable(pilot, output="text")
    pf_fake = pilotfish.FakeModel(["ok"])

    rows = [
        ("bare FakeListChatModel.invoke", lambda: fake.invoke("hi")),
        ("PilotChatModel(FakeListChatModel).invoke", lambda: wrapped.invoke("hi")),
        ("  same, trace_events=False", lambda: wrapped_quiet.invoke("hi")),
        ("LangChainModel(FakeListChatModel).generate", lambda: lc_model.generate("hi")),
        ("Pilot(LangChainModel(...)).run", lambda: pilot.run("hi")),
        ("PilotRunnable(Pilot(...)).invoke", lambda: runnable.invoke("hi")),
        ("bare pilotfish FakeModel.generate", lambda: pf_fake.generate("hi")),
    ]
    results = [(name, timed(fn, args.calls)) for name, fn in rows]
    base = results[0][1]
    print(f"{'path':<46} {'us/call':>9} {'vs bare LC':>11}")
    for name, us in results:
        print(f"{name:<46} {us:9.1f} {us / base:10.2f}x")
    overhead = results[1][1] - base
    print(f"\nPilotChatModel adds {overhead:.0f} us per call over the bare LangChain fake model "
          f"(median of rows: {statistics.median(u for _, u in results):.0f} us)")


if __name__ == "__main__":
    main()
