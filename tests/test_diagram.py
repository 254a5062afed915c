"""The asset graph: edges carry mappings, Mermaid ids avoid reserved words, DOT escapes names."""

from __future__ import annotations

from pathlib import Path

from setpoint import controller
from setpoint.diagram import to_dot, to_mermaid

PROJECT = """\
name: 'say "hi"'
"""

ASSETS = """\
assets:
  - name: end
    table: ends
    partitions:
      day: {daily: {start: 2024-03-01, end: 2024-03-03}}
    depends_on:
      - asset: end
        mapping: {previous: 1, dimension: day}
    action: {sql: "SELECT 1"}
  - name: totals
    table: totals
    depends_on: [end]
    action: {sql: "SELECT 1"}
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "setpoint.yaml").write_text(PROJECT)
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "all.yaml").write_text(ASSETS)
    return tmp_path


def test_mermaid_renames_reserved_ids_and_keeps_self_edges(tmp_path: Path) -> None:
    graph = controller.graph(_project(tmp_path))
    assert to_mermaid(graph) == """\
flowchart LR
    end_["end<br/>[day]"]
    totals["totals<br/>unpartitioned"]
    end_ -- "day -1" --> end_
    end_ -- "all" --> totals"""


def test_dot_quotes_and_escapes_names(tmp_path: Path) -> None:
    graph = controller.graph(_project(tmp_path))
    assert to_dot(graph).splitlines()[0] == 'digraph "say \\"hi\\"" {'
    assert '    "end" -> "end" [label="day -1"];' in to_dot(graph).splitlines()
