"""Frontier → facts → clingo → statuses, reasons and runs."""

from __future__ import annotations

from .session import SolveResult, check_rules, solve

__all__ = ["SolveResult", "check_rules", "solve"]
