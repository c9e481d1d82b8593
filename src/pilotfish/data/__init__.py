"""Data tools: synthesis, distillation, curation and weak-to-strong training, as plugins.

Importing this package is cheap (no torch); the heavy work imports its dependencies lazily.
Reusable pieces for other areas (e.g. training a verifier or ColBERT from MiniLM):

- records: :func:`read_jsonl`, :func:`write_jsonl`, :func:`make_record`, :func:`provenance`
- synthesis: :func:`label_texts`, :func:`generate_examples`, :func:`paraphrase`
- :func:`dedup` (MinHash near-duplicates), :class:`TextClassifier` (MiniLM student)
- host calls: :func:`run_synthesis`, :func:`score`, :func:`curate`, :func:`run_distill`
- every maker of training data the retrievers and verifiers train on (they import these modules, never
  each other): :mod:`.claims` (the verifier's claims, from :mod:`.articles` with :mod:`.contradictions`,
  :mod:`.rewrites` and :mod:`.facts`), :mod:`.cloze` (cloze queries of the ColBERT and reranker trainers),
  :mod:`.teacher` (the large model's questions)
"""

from .api import curate, data_pilot, run_distill, run_synthesis, score
from .classifier import TextClassifier
from .dedup import dedup, duplicate_of
from .records import make_record, provenance, read_jsonl, write_jsonl
from .synthesis import SynthesisReport, SynthesisResult, generate_examples, label_texts, paraphrase

__all__ = [
    "SynthesisReport",
    "SynthesisResult",
    "TextClassifier",
    "curate",
    "data_pilot",
    "dedup",
    "duplicate_of",
    "generate_examples",
    "label_texts",
    "make_record",
    "paraphrase",
    "provenance",
    "read_jsonl",
    "run_distill",
    "run_synthesis",
    "score",
    "write_jsonl",
]
