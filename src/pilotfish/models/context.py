"""Fitting a generation into a model's context window (shared by the local backends)."""

from __future__ import annotations

import warnings

from pilotfish.core.errors import ContextLengthError, PilotfishWarning


def fit_max_tokens(model_id: str, context_window: int, prompt_tokens: int, max_tokens: int, *,
                   stacklevel: int = 1) -> int:
    """How many new tokens a prompt of ``prompt_tokens`` tokens leaves room for, at most ``max_tokens``.

    A prompt that fills the window raises :class:`ContextLengthError`; a ``max_tokens`` past the room left is
    cut to it, with a :class:`PilotfishWarning`. ``stacklevel`` is counted from the caller, as for
    :func:`warnings.warn` called there.
    """
    room = context_window - prompt_tokens
    if room <= 0:
        raise ContextLengthError(
            f"the prompt is {prompt_tokens} tokens; {model_id} accepts at most {context_window} "
            "(shorten the question or retrieve fewer passages)"
        )
    if max_tokens > room:
        warnings.warn(f"{model_id}: max_tokens {max_tokens} cut to {room} to fit the context window",
                      PilotfishWarning, stacklevel=stacklevel + 1)
        return room
    return max_tokens
