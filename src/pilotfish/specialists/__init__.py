"""Specialists: small trained models for one task that compete with the large model.

Model ids ``specialist:bbc-topic`` and ``specialist:tabular:<iris | wine | breast_cancer>`` work anywhere
a model is named. Each answer carries its explanation (evidence sentences, feature contributions); each
specialist declares its task (:meth:`Specialist.accepts`) and measured accuracy
(:attr:`Specialist.measured_accuracy`, :meth:`Specialist.beats`) so a router can choose it.
"""

from .base import Prediction, Specialist, record_baseline
from .plugin import load_specialist

__all__ = ["Prediction", "Specialist", "load_specialist", "record_baseline"]
