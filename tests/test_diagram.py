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


def test_mermaid_ids_never_collide_with_its_keywords_and_self_edges_stay(tmp_path: Path) -> None:
    graph = controller.graph(_project(tmp_path))
    assert to_mermaid(graph) == """\
flowchart LR
    a_end["end<br/>[day]"]
    a_totals["totals<br/>unpartitioned"]
    a_end -- "day -1" --> a_end
    a_end -- "all" --> a_totals"""


def test_dot_quotes_and_escapes_names(tmp_path: Path) -> None:
    graph = controller.graph(_project(tmp_path))
    assert to_dot(graph).splitlines()[0] == 'digraph "say \\"hi\\"" {'
    assert '    "end" -> "end" [label="day -1"];' in to_dot(graph).splitlines()


def test_dependencies_rules_add_between_named_assets_are_dashed_edges(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "rules").mkdir()
    (root / "rules" / "extra.lp").write_text(
        "% totals also wait for the day's end\ndepends(totals, P, end, Q) :- frontier(end, Q), frontier(totals, P).\n"
        "depends(A, P, end, Q) :- frontier(A, P), frontier(end, Q), A != end.\n")
    graph = controller.graph(root)
    assert [e.to_json() for e in graph.edges][-1] == {"upstream": "end", "downstream": "totals",
                                                      "rule": "rules/extra.lp:2"}
    assert '    a_end -. "rule rules/extra.lp:2" .-> a_totals' in to_mermaid(graph).splitlines()
    assert '    "end" -> "totals" [label="rule rules/extra.lp:2", style=dashed];' in to_dot(graph).splitlines()
