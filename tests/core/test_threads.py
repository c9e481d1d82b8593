"""One thread setting for torch and llama.cpp: ``[pilotfish] threads`` or ``$PILOTFISH_THREADS``."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish.core import threads


def test_env_wins_and_bad_values_are_clear_errors(monkeypatch):
    monkeypatch.setenv("PILOTFISH_THREADS", "1")
    assert threads.threads_now() == 1
    monkeypatch.setenv("PILOTFISH_THREADS", "many")
    with pytest.raises(pilotfish.ConfigError, match="PILOTFISH_THREADS must be a positive integer or 'auto', got 'many'"):
        threads.threads_now()
    monkeypatch.setenv("PILOTFISH_THREADS", "auto")
    assert 1 <= threads.threads_now() <= threads.cpu_count()


def test_config_threads_is_validated_and_applied(monkeypatch):
    monkeypatch.delenv("PILOTFISH_THREADS", raising=False)
    from pilotfish.core.config import parse_config

    for bad in (0, "fast", 1.5):
        with pytest.raises(pilotfish.ConfigError, match="threads"):
            parse_config({"threads": bad})
    assert parse_config({"threads": 2}).threads == 2
    try:
        pilotfish.Pilot(model=pilotfish.FakeModel(), config=pilotfish.PilotConfig(threads=1), use_entrypoints=False)
        assert threads.thread_setting() == 1 and threads.threads_now() == 1
    finally:
        threads.set_threads("auto")


def test_auto_leaves_busy_cores_to_other_processes(monkeypatch):
    monkeypatch.delenv("PILOTFISH_THREADS", raising=False)
    monkeypatch.setattr(threads, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads, "others_load", lambda: 0.05)
    assert threads.threads_now() == 2
    monkeypatch.setattr(threads, "others_load", lambda: 0.9)
    assert threads.threads_now() == 1
    monkeypatch.setattr(threads, "others_load", lambda: 3.0)
    assert threads.threads_now() == 1


def test_others_load_measures_a_busy_process():
    import subprocess
    import sys
    import time

    threads.others_load()
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"])
    try:
        time.sleep(1.0)
        seen = threads.others_load()
    finally:
        busy.wait()
    assert seen is not None and seen > 0.5
