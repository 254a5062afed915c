"""setpoint: declare the data you want; it observes what exists and closes the gap.

The public API is small: load a project, plan it, apply it, read its history,
and the error root.
"""

from __future__ import annotations

from .apply import ApplyResult, apply
from .controller import History, history, plan, validate
from .errors import ConfigError, ObserveError, RuleError, SetpointError, SolveError, UsageError
from .plan import Action, PartitionStatus, Plan, Reason
from .project.loader import load_project

__all__ = [
    "Action", "ApplyResult", "ConfigError", "History", "ObserveError", "PartitionStatus", "Plan", "Reason",
    "RuleError", "SetpointError", "SolveError", "UsageError", "apply", "history", "load_project", "plan", "validate",
]
