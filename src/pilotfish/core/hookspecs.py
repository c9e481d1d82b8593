"""Every hook of the pilotfish host, in one module.

Each docstring says when the hook runs, its arguments, what it returns and its call mode:
*first result wins* (the first non-``None`` result stops the call) or *all results
collected*. Plugins implement hooks with ``@pilotfish.hookimpl`` and name only the arguments
they need (pluggy passes an implementation just those, so hooks grow by adding arguments).

Async implementations are allowed: the host awaits a coroutine result. Note that a coroutine
object is never ``None``, so an async implementation of a first-result hook always wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from .models import LanguageModel
    from .pilot import Pilot
    from .types import Document, Generation, Message, RepairResult, Request, Route, Verdict

hookspec = pluggy.HookspecMarker("pilotfish")
hookimpl = pluggy.HookimplMarker("pilotfish")

PROJECT = "pilotfish"


# --- set-up hooks -------------------------------------------------------------------------


@hookspec
def register_models(register: Any) -> None:
    """Make models known by id.

    When: once per process, the first time a model id is resolved (``get_model``) or listed
    (``pilotfish models``). Read from every *installed* plugin, enabled or not.

    Args:
        register: a :class:`pilotfish.core.models.ModelRegistry`. Call
            ``register(alias, factory, description=..., kind="causal-lm", available=callable)``
            for a named model, or ``register.scheme(prefix, factory)`` for ids like
            ``openai:gpt-4o`` (the factory gets the part after ``prefix:``).

    Returns: nothing (all implementations are called).
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``pilotfish`` CLI.

    When: once, when the CLI starts. Read from every installed plugin.

    Args:
        cli: the root ``click.Group``. Sub-groups ``cli.commands["eval"]`` and
            ``cli.commands["train"]`` exist for ``pilotfish eval X`` / ``pilotfish train X``.

    Returns: nothing (all implementations are called).
    """


# --- the request's way through the host -----------------------------------------------------


@hookspec
def before_prompt(request: Request, pilot: Pilot) -> Request | None:
    """Rewrite the request before anything else happens.

    When: first, once per run. Query rewriting, prompt compression, example selection and
    domain knowledge plug in here.

    Call mode: *chained*. Every enabled implementation runs, in hook order, and each sees the
    previous one's result. Return a new request (``request.replace(...)``) or ``None`` to leave
    it unchanged. Wrappers are not supported on this hook.

    Args:
        request: the current :class:`~pilotfish.Request`.
        pilot: the host (for ``pilot.get_model(...)``, ``pilot.options``).
    """


@hookspec(firstresult=True)
def route(request: Request, pilot: Pilot) -> Route | str | LanguageModel | None:
    """Choose the model that answers.

    When: after ``before_prompt``, once per run.

    Call mode: *first result wins*. The built-in fallback (``trylast``) returns the configured
    default model. Return a :class:`~pilotfish.Route`, a model id, or a model object.
    Cascading is a ``generate`` strategy, not a route.
    """


@hookspec
def retrieve(request: Request, k: int, pilot: Pilot) -> list[Document] | None:
    """Find passages relevant to ``request.search_query``.

    When: after ``route``, once per run.

    Call mode: *all results collected*. Each retriever returns its ranked documents (best
    first, at most ``k``); the host fuses the lists by reciprocal rank fusion. Return ``None``
    or ``[]`` for nothing.

    Args:
        request: the request (search with ``request.search_query``).
        k: how many candidates the host wants from each retriever.
    """


@hookspec(firstresult=True)
def rerank(request: Request, documents: list[Document], k: int, pilot: Pilot) -> list[Document] | None:
    """Order the fused candidates and keep the best ``k``.

    When: after ``retrieve`` when there is at least one candidate.

    Call mode: *first result wins*. Without an implementation the fused order stands.
    """


@hookspec(firstresult=True)
def compress(request: Request, documents: list[Document], pilot: Pilot) -> list[Document] | None:
    """Shorten the passages the prompt will show (prompt compression, LLMLingua-style).

    When: after ``rerank``, before ``build_messages``, when there is at least one passage.

    Call mode: *first result wins*. Return one document per input document, in the same order (a
    passage with nothing kept has empty text and is left out of the prompt, but keeps its number), so
    ``[n]`` citations still resolve to ``answer.documents``, which stay the original passages. The
    prompt and the verifiers see the compressed passages; put ``tokens_before`` and ``tokens_after``
    in each document's ``metadata["compression"]`` and the host records the ratio in
    ``answer.metadata["compression"]``.
    """


@hookspec(firstresult=True)
def build_messages(request: Request, documents: list[Document], pilot: Pilot) -> list[Message] | None:
    """Turn the request and the retrieved documents into the chat messages sent to the model.

    When: after retrieval, before ``generate``.

    Call mode: *first result wins*. The built-in fallback (``trylast``) numbers the passages
    ``[1]``, ``[2]``... in a system message and asks for citations, adds ``request.context`` and
    ``request.examples``, then appends the conversation.
    """


@hookspec
def logits_processors(request: Request, model: LanguageModel, pilot: Pilot) -> list[Any] | None:
    """Token-level steering for a white-box model.

    When: by the built-in ``generate`` fallback, before decoding, when the model is white-box.

    Call mode: *all results collected* (lists are concatenated). Each processor is a callable
    ``(input_ids: LongTensor[1, n], scores: FloatTensor[1, vocab]) -> FloatTensor`` (the
    Hugging Face ``LogitsProcessor`` signature), applied in order at every step.
    """


@hookspec(firstresult=True)
def generate(
    request: Request,
    messages: list[Message],
    model: LanguageModel,
    on_token: Any,
    pilot: Pilot,
) -> Generation | None:
    """Produce the answer.

    When: after ``build_messages``, once per run (and again by repair plugins that regenerate).

    Call mode: *first result wins*. The built-in fallback (``trylast``) calls the routed model.
    Decoding strategies (speculative, contrastive, proxy-tuned) and cascades implement this
    hook and return a :class:`~pilotfish.Generation`.

    Args:
        messages: the chat messages from ``build_messages``.
        model: the routed model.
        on_token: ``None`` or a callable taking each text chunk as it is produced; a plugin
            that streams should call it (``Pilot.stream`` relies on it).
    """


@hookspec
def verify(request: Request, text: str, documents: list[Document], pilot: Pilot) -> list[Verdict] | None:
    """Check the answer.

    When: after ``generate``, and again after every repair round.

    Call mode: *all results collected*. Each verifier returns a list of
    :class:`~pilotfish.Verdict` (per claim where it can); the lists are concatenated.
    """


@hookspec(firstresult=True)
def repair(
    request: Request,
    text: str,
    verdicts: list[Verdict],
    documents: list[Document],
    round: int,
    pilot: Pilot,
) -> RepairResult | None:
    """Fix an answer that failed verification.

    When: only when at least one verdict failed; at most ``max_repair_rounds`` times
    (default 2). ``round`` starts at 1.

    Call mode: *first result wins*. Return a :class:`~pilotfish.RepairResult` (new text and what
    was done) or ``None`` to pass. The loop stops when nobody repairs or every verdict passes.
    """


# --- data tools (issue 5) -------------------------------------------------------------------


@hookspec(firstresult=True)
def synthesize(method: str, records: list[Any], params: dict[str, Any], model: Any, pilot: Pilot) -> Any | None:
    """Make or label training data with a model.

    When: by ``pilotfish synthesize METHOD`` and :func:`pilotfish.data.run_synthesis`, once per
    call (the engine may call it once per shard).

    Call mode: *first result wins*. The built-in ``synthesis`` plugin (``trylast``) handles the
    methods ``scratch``, ``label`` and ``paraphrase``; a plugin adds a method by returning a
    result for its own name and ``None`` for the others.

    Args:
        method: what to do (``"scratch"``, ``"label"``, ``"paraphrase"``, or a plugin's own).
        records: the input records (JSONL dicts with ``text``; empty for ``scratch``).
        params: the method's parameters (``labels``, ``task``, ``n``, ...).
        model: the model id or object that writes or labels.

    Returns: a :class:`pilotfish.data.synthesis.SynthesisResult` (records with provenance and a
    report that counts unparseable outputs), or ``None`` to pass.
    """


@hookspec
def score_examples(records: list[Any], pilot: Pilot) -> dict[str, list[Any]] | None:
    """Score records for curation.

    When: by ``pilotfish curate`` and :func:`pilotfish.data.curation.score`, once per call (the
    engine may call it once per shard).

    Call mode: *all results collected*. Each scorer returns columns, ``{"perplexity": [...]}``,
    one value per record in order; the host merges them into each record's ``scores`` and the
    selection rule reads them.

    Args:
        records: the records to score (dicts with ``text``, maybe ``response``, ``label``).
    """


@hookspec(firstresult=True)
def distill(task: str, records: list[Any], teacher: Any, student: Any, params: dict[str, Any], pilot: Pilot) -> Any | None:
    """Train a student from a teacher.

    When: by ``pilotfish distill`` and :func:`pilotfish.data.distill.run_distill`, once.

    Call mode: *first result wins*. The built-in ``distillers`` plugin (``trylast``) handles
    ``classification`` (teacher labels, MiniLM student), ``generation`` (teacher answers, causal
    LM student, supervised fine-tuning) and ``whitebox`` (KL on the teacher's token
    distributions, same-tokenizer student).

    Args:
        task: the kind of distillation.
        records: training inputs (dicts with ``text``).
        teacher, student: model ids (or objects) of the teacher and of the student to train.
        params: task parameters (``labels``, ``steps``, ``out`` directory, ...).

    Returns: a :class:`pilotfish.data.distill.DistillResult` (student, metrics, saved path), or
    ``None`` to pass.
    """
