"""The typed facade over the hooks (``pm.hooks``): one method per hook, so the host's own calls are
type-checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import PluginError

if TYPE_CHECKING:
    from .manager import PluginManager

class Hooks:
    """Typed facade: one method per hook, so the host's own calls are type-checked.

    ``pm.hook.X(...)`` returns ``Any``; these methods say what comes back.
    """

    def __init__(self, pm: PluginManager):
        self._pm = pm

    def before_prompt(self, request: Any, pilot: Any) -> Any:
        """Chained: each implementation sees the previous one's result."""
        impls = self._pm.hook.before_prompt.get_hookimpls()
        for impl in reversed(impls):  # pluggy's call order
            if impl.wrapper or impl.hookwrapper:
                raise PluginError(impl.plugin_name, "before_prompt", "wrappers are not supported on this hook")
            available = {"request": request, "pilot": pilot}
            result = impl.function(*[available[a] for a in impl.argnames])
            if result is not None:
                request = result
        return request

    def route(self, request: Any, pilot: Any) -> Any:
        return self._pm.hook.route(request=request, pilot=pilot)

    def retrieve(self, request: Any, k: int, pilot: Any) -> list[list[Any]]:
        return [r for r in self._pm.hook.retrieve(request=request, k=k, pilot=pilot) if r]

    def rerank(self, request: Any, documents: list[Any], k: int, pilot: Any) -> list[Any] | None:
        return self._pm.hook.rerank(request=request, documents=documents, k=k, pilot=pilot)

    def compress(self, request: Any, documents: list[Any], pilot: Any) -> list[Any] | None:
        return self._pm.hook.compress(request=request, documents=documents, pilot=pilot)

    def build_messages(self, request: Any, documents: list[Any], pilot: Any) -> list[dict[str, str]]:
        return self._pm.hook.build_messages(request=request, documents=documents, pilot=pilot)

    def logits_processors(self, request: Any, model: Any, pilot: Any) -> list[Any]:
        out: list[Any] = []
        for procs in self._pm.hook.logits_processors(request=request, model=model, pilot=pilot):
            out.extend(procs or [])
        return out

    def generate(self, request: Any, messages: list[Any], model: Any, on_token: Any, pilot: Any) -> Any:
        return self._pm.hook.generate(
            request=request, messages=messages, model=model, on_token=on_token, pilot=pilot
        )

    def verify(self, request: Any, text: str, documents: list[Any], pilot: Any) -> list[Any]:
        out: list[Any] = []
        for verdicts in self._pm.hook.verify(request=request, text=text, documents=documents, pilot=pilot):
            out.extend(verdicts or [])
        return out

    def repair(self, request: Any, text: str, verdicts: list[Any], documents: list[Any], round: int, pilot: Any) -> Any:
        return self._pm.hook.repair(
            request=request, text=text, verdicts=verdicts, documents=documents, round=round, pilot=pilot
        )

    def synthesize(self, method: str, records: list[Any], params: dict[str, Any], model: Any, pilot: Any) -> Any:
        return self._pm.hook.synthesize(method=method, records=records, params=params, model=model, pilot=pilot)

    def score_examples(self, records: list[Any], pilot: Any) -> list[dict[str, list[Any]]]:
        return [c for c in self._pm.hook.score_examples(records=records, pilot=pilot) if c]

    def distill(self, task: str, records: list[Any], teacher: Any, student: Any, params: dict[str, Any], pilot: Any) -> Any:
        return self._pm.hook.distill(task=task, records=records, teacher=teacher, student=student, params=params,
                                     pilot=pilot)
