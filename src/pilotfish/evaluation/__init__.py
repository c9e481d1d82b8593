"""End-to-end evaluation of a configured pilot (``pilotfish eval qa``)."""

from .qa import evaluate_qa, load_qa, score_answer

__all__ = ["evaluate_qa", "load_qa", "score_answer"]
