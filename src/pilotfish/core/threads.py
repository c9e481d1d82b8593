"""How many CPU threads the local models use: one setting for torch and llama.cpp.

``[pilotfish] threads`` in the config or ``$PILOTFISH_THREADS`` (which wins): a positive integer,
or ``"auto"`` (the default).

Why ``auto`` looks at the load instead of taking every core: on the 2-core machines pilotfish is
developed on, llama.cpp with two threads was 3-10x *slower* than with one whenever another process
was busy (its threads wait for each other at every layer), and about 1.8x faster on an idle machine
(Qwen2.5-1.5B: 27 against 15 tokens/s; SmolLM2: 157 against 94; ``benchmarks/engine.py`` measures
it again). So ``auto`` measures how much CPU *other* processes used since it last looked
(``/proc/stat`` minus this process's own CPU time) and takes every core only when the others used
less than a quarter of one; otherwise it leaves them the cores they are using, and never fewer than one.

Nothing here changes a process-wide thread count per call: llama.cpp takes the count per context
and per call; torch's pool is sized once, when the first torch model loads (:func:`torch_threads`).
"""

from __future__ import annotations

import os
import threading
import time

from .errors import ConfigError

_setting: int | str | None = None
_lock = threading.Lock()
_last: tuple[float, float, float] | None = None  # (wall, busy CPU seconds of the machine, own CPU seconds)
_torch_done = False


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def parse_threads(value: object, source: str = "threads") -> int | str:
    """``"auto"`` or a positive int; anything else is a :class:`ConfigError` naming ``source``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if text.isdigit() and int(text) > 0:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ConfigError(f"{source} must be a positive integer or 'auto', got {value!r}")


def set_threads(value: int | str | None) -> None:
    """Set the process default (the config's ``threads``); ``None`` leaves it as it is."""
    global _setting
    if value is not None:
        _setting = parse_threads(value)


def thread_setting() -> int | str:
    """``$PILOTFISH_THREADS``, else the configured value, else ``"auto"``."""
    env = os.environ.get("PILOTFISH_THREADS")
    if env:
        return parse_threads(env, "PILOTFISH_THREADS")
    return _setting if _setting is not None else "auto"


def _sample() -> tuple[float, float, float] | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    busy = (sum(fields[:8]) - idle) / ticks
    own = os.times()
    return time.monotonic(), busy, own.user + own.system


def others_load() -> float | None:
    """CPU cores other processes kept busy since the last call (a fresh 0.1 s window when that was
    long ago or never); ``None`` where ``/proc/stat`` cannot be read."""
    global _last
    with _lock:
        now = _sample()
        if now is None:
            return None
        if _last is None or now[0] - _last[0] > 30:
            time.sleep(0.1)
            _last, now = now, _sample()
            assert now is not None
        elif now[0] - _last[0] < 0.05:
            # too short a window to say anything: keep the previous one
            return _others_cached
        prev = _last
        _last = now
    return _remember(max(0.0, ((now[1] - prev[1]) - (now[2] - prev[2])) / max(now[0] - prev[0], 1e-6)))


_others_cached: float | None = None


def _remember(value: float) -> float:
    global _others_cached
    _others_cached = value
    return value


def threads_now() -> int:
    """The thread count to use for the next piece of work (see the module doc)."""
    setting = thread_setting()
    if isinstance(setting, int):
        return setting
    cores = cpu_count()
    others = others_load()
    if others is None or cores == 1:
        return max(1, cores - 1) if others is None else 1
    if others < 0.25:
        return cores
    return max(1, int(cores - others))


def torch_threads() -> None:
    """Size torch's intra-op pool once per process, from :func:`threads_now` (called where a torch
    model is loaded)."""
    global _torch_done
    if _torch_done:
        return
    with _lock:
        if _torch_done:
            return
        _torch_done = True
    import torch

    torch.set_num_threads(threads_now())
