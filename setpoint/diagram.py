"""``setpoint graph``: the asset graph as Mermaid or Graphviz DOT, optionally with status counts.

Edges run from an upstream asset to the asset that needs it (the way data
flows) and carry the mapping that selects upstream partitions: ``identity``,
``on day``, ``all``, ``previous 3 day``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .plan import STATUSES
from .project.model import Project
from .solver.provenance import rule_edges

FORMATS = ("mermaid", "dot")
_COLORS = {"blocked": "#f8d0d0", "pending": "#fdf0c8", "satisfied": "#d6efd6"}


@dataclass(frozen=True)
class GraphAsset:
    name: str
    dims: tuple[str, ...]
    action: str | None
    counts: dict[str, int] | None = None

    @property
    def health(self) -> str | None:
        """blocked, pending (something to do or wait for) or satisfied; None without counts."""
        if self.counts is None:
            return None
        if self.counts.get("blocked"):
            return "blocked"
        return "pending" if any(self.counts.get(s) for s in STATUSES[1:]) else "satisfied"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dimensions": list(self.dims), "action": self.action}
        if self.counts is not None:
            out["counts"] = self.counts
        return out


@dataclass(frozen=True)
class GraphEdge:
    """A declared dependency (``mapping`` set), or one a rule adds (``rule``: its file:line)."""

    upstream: str
    downstream: str
    mapping: str | None = None
    rule: str | None = None

    @property
    def label(self) -> str:
        return self.mapping if self.mapping is not None else f"rule {self.rule}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"upstream": self.upstream, "downstream": self.downstream}
        out.update({"mapping": self.mapping} if self.mapping is not None else {"rule": self.rule})
        return out


@dataclass
class AssetGraph:
    project: str
    assets: list[GraphAsset] = field(default_factory=list)
    edges: list[GraphEdge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "assets": [a.to_json() for a in self.assets],
                "edges": [e.to_json() for e in self.edges]}


def asset_graph(project: Project, counts: dict[str, dict[str, int]] | None = None) -> AssetGraph:
    """Assets in dependency order, one edge per declared dependency, and one per rule adding dependencies
    between two assets it names (dashed)."""
    graph = AssetGraph(project.name)
    for asset in project.assets.values():
        graph.assets.append(GraphAsset(asset.name, asset.dims, asset.action.kind if asset.action else None,
                                       dict(counts[asset.name]) if counts is not None else None))
        for dep in asset.dependencies:
            graph.edges.append(GraphEdge(dep.asset, asset.name, dep.mapping.describe()))
    display = {str(f): project.display(f) for f in project.rule_files}
    for a, b, file, line in rule_edges(list(display), display):
        if a in project.assets and b in project.assets:
            graph.edges.append(GraphEdge(b, a, rule=f"{file}:{line}"))
    return graph


def _counts_line(counts: dict[str, int]) -> str:
    shown = [f"{counts[s]:,} {s}" for s in STATUSES if counts.get(s)]
    return f"{counts['expected']:,} expected" + (": " + ", ".join(shown) if shown else "")


def _lines(a: GraphAsset) -> list[str]:
    lines = [a.name, f"[{', '.join(a.dims)}]" if a.dims else "unpartitioned"]
    if a.action is None:
        lines.append("no action")
    if a.counts is not None:
        lines.append(_counts_line(a.counts))
    return lines


def _mermaid_id(name: str) -> str:
    """Node ids carry a prefix: Mermaid reserves words an asset may be named (end, call, class, …)."""
    return f"a_{name}"


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(graph: AssetGraph) -> str:
    out = ["flowchart LR"]
    for a in graph.assets:
        label = "<br/>".join(_mermaid_text(line) for line in _lines(a))
        out.append(f'    {_mermaid_id(a.name)}["{label}"]')
    for e in graph.edges:
        arrow = f'-- "{_mermaid_text(e.label)}" -->' if e.mapping is not None else f'-. "{_mermaid_text(e.label)}" .->'
        out.append(f"    {_mermaid_id(e.upstream)} {arrow} {_mermaid_id(e.downstream)}")
    healths = {a.health for a in graph.assets} - {None}
    for h in sorted(healths):
        out.append(f"    classDef {h} fill:{_COLORS[h]}")
        members = ",".join(_mermaid_id(a.name) for a in graph.assets if a.health == h)
        out.append(f"    class {members} {h}")
    return "\n".join(out)


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: AssetGraph) -> str:
    out = [f"digraph {_dot_text(graph.project)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for a in graph.assets:
        label = _dot_text("\n".join(_lines(a))).replace("\n", "\\n")
        fill = f', style=filled, fillcolor="{_COLORS[a.health]}"' if a.health else ""
        out.append(f"    {_dot_text(a.name)} [label={label}{fill}];")
    for e in graph.edges:
        style = "" if e.mapping is not None else ", style=dashed"
        out.append(f"    {_dot_text(e.upstream)} -> {_dot_text(e.downstream)} [label={_dot_text(e.label)}{style}];")
    out.append("}")
    return "\n".join(out)
