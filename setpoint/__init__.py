"""setpoint: declare the data you want; it observes what exists and closes the gap.

The public API is small: load a project, plan it, and the error root.
"""

from __future__ import annotations

from .controller import plan, validate
from .errors import ConfigError, ObserveError, RuleError, SetpointError, SolveError, UsageError
from .plan import Action, PartitionStatus, Plan, Reason
from .project.loader import load_project

__all__ = [
    "Action", "ConfigError", "ObserveError", "PartitionStatus", "Plan", "Reason", "RuleError",
    "SetpointError", "SolveError", "UsageError", "load_project", "plan", "validate",
]
