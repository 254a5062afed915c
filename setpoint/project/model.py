"""The validated, typed model of a project: what the user declared, nothing observed.

Everything downstream (observers, frontier, solver, plan) reads these objects,
never the raw YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from .timewindows import TimeWindows


@dataclass(frozen=True)
class Origin:
    """Where a declaration came from, for error messages and explanations."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class StaticValues:
    """A fixed list of values, e.g. ``[eu, us]``."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class TableValues:
    """Values read from data: the distinct values of a column in a warehouse table."""

    table: str
    column: str


@dataclass(frozen=True)
class FileValues:
    """Values read from a listing file, one per line (blank lines and ``#`` comments skipped)."""

    path: Path
    display: str


@dataclass(frozen=True)
class UnknownValues:
    """Stands in for a dimension whose declaration is broken (the problem is already reported).

    Keeping the dimension, name and all, stops one mistake from cascading into
    others ("placeholder {day} is not a partition dimension"). A project holding
    one never loads: the loader raises with the original problem.
    """


Space = TimeWindows | StaticValues | TableValues | FileValues | UnknownValues


@dataclass(frozen=True)
class Dimension:
    """One axis of an asset's partition space."""

    name: str
    space: Space
    origin: Origin

    @property
    def is_time(self) -> bool:
        return isinstance(self.space, TimeWindows)


@dataclass(frozen=True)
class TableLocation:
    """The asset is a warehouse table; each dimension is a column (by default of the same name)."""

    table: str
    columns: dict[str, str]
    updated_at: str | None = None


@dataclass(frozen=True)
class FilesLocation:
    """The asset is a set of files matching a path template such as ``csv/{campaign}/{day}.csv``."""

    template: str
    root: Path


@dataclass(frozen=True)
class CommandLocation:
    """A user command prints the present partitions as JSON lines."""

    argv: tuple[str, ...]
    cwd: Path


@dataclass(frozen=True)
class ReportedLocation:
    """Nothing setpoint can poll: what exists is what ``setpoint report`` was told (kept in the state store)."""

    state: Path | None = None


Location = TableLocation | FilesLocation | CommandLocation | ReportedLocation


@dataclass(frozen=True)
class Mapping:
    """How a partition of the dependent asset selects partitions of the upstream asset.

    kind is one of:
      identity — the same key (both assets have the same dimensions);
      on       — equal values on the listed dimensions; upstream dimensions not
                 listed fan in (all their values), dependent ones are ignored;
      all      — every partition of the upstream asset;
      offset   — the same key with the time dimension shifted by each of ``offsets``
                 windows (``previous: 3`` is offsets -1, -2, -3).
    """

    kind: str
    on: tuple[str, ...] = ()
    dimension: str | None = None
    offsets: tuple[int, ...] = ()

    def describe(self) -> str:
        if self.kind == "on":
            return f"on {', '.join(self.on)}" if self.on else "all"
        if self.kind == "offset":
            if self.offsets == tuple(range(-1, -len(self.offsets) - 1, -1)) and len(self.offsets) > 1:
                return f"previous {len(self.offsets)} {self.dimension}"
            return f"{self.dimension} {', '.join(f'{o:+d}' for o in self.offsets)}"
        return self.kind


@dataclass(frozen=True)
class Dependency:
    """The dependent asset's partitions need ``asset``'s partitions through ``mapping``."""

    asset: str
    mapping: Mapping
    origin: Origin


@dataclass(frozen=True)
class Action:
    """How an asset's partitions are produced (kept as data until apply executes it).

    ``grain`` lists the dimensions one run is keyed on; a grain coarser than the
    asset's dimensions means one run produces many partitions (e.g. all campaigns
    of a day). ``batch_max`` > 1 lets one run cover a contiguous range of windows
    of ``batch_dimension``.

    ``version`` is a hash of the definition (and of a declared ``version:``): a
    partition built by a run of another version is stale. A failing run is
    retried up to ``max_attempts`` times, the n-th retry after a backoff of
    about ``backoff`` × 2^(n-1); a run longer than ``timeout`` fails.
    """

    kind: str
    definition: str | tuple[str, ...]
    grain: tuple[str, ...]
    batch_max: int = 1
    batch_dimension: str | None = None
    origin: Origin | None = None
    version: str = ""
    max_attempts: int = 3
    timeout: timedelta | None = None
    backoff: timedelta = timedelta(seconds=10)
    #: None: an apply waits for each run; "process": the command runs on in the background, in progress
    #: while it lives; "report": it starts outside work, in progress until `setpoint report` ends it
    detach: str | None = None
    #: the concurrency pool its runs count against (``pools:`` in setpoint.yaml)
    pool: str = "default"
    #: how long one run takes before the run record knows better (None: the project's default)
    estimate: timedelta | None = None


@dataclass(frozen=True)
class Slo:
    """What "in time" means for an asset (``slo:`` in its file).

    ``freshness``: a partition must reflect an upstream change within this lag
    (a missing time partition: within this lag of its window closing).
    ``max_age``: an unpartitioned asset must be no older than this; it is
    refreshed early enough to make it. ``deadline``: a time partition must be
    ready by this clock time (``at``, minutes after local midnight) on the local
    day its window closes, or ``after`` its window closes.
    """

    freshness: timedelta | None = None
    max_age: timedelta | None = None
    at: int | None = None
    after: timedelta | None = None
    timezone: str = "UTC"
    origin: Origin | None = None
    #: with ``max_age``: a refresh starts this long before the age would run out, on top of a run's
    #: estimate (None: a tenth of ``max_age``), so that an apply woken a little late still makes it
    refresh_ahead: timedelta | None = None

    @property
    def lead(self) -> timedelta:
        """How early, besides a run's estimate, a too-old-soon partition is refreshed."""
        if self.refresh_ahead is not None:
            return self.refresh_ahead
        return self.max_age / 10 if self.max_age is not None else timedelta(0)

    def describe(self) -> str:
        parts = []
        if self.at is not None:
            parts.append(f"ready by {self.at // 60:02d}:{self.at % 60:02d} {self.timezone} after its window closes")
        if self.after is not None:
            parts.append(f"ready within {_span(self.after)} of its window closing")
        if self.freshness is not None:
            parts.append(f"reflects upstream changes within {_span(self.freshness)}")
        if self.max_age is not None:
            parts.append(f"no older than {_span(self.max_age)}")
        return "; ".join(parts)


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0 and s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


@dataclass(frozen=True)
class Limits:
    """Guardrails: how much one apply may do (``guardrails:`` of the project or of an asset). None: no limit."""

    actions: int | None = None
    partitions: int | None = None
    compute: timedelta | None = None
    origin: Origin | None = None

    def any(self) -> bool:
        return any(x is not None for x in (self.actions, self.partitions, self.compute))


@dataclass(frozen=True)
class Asset:
    """A named thing in storage, its partition space, what it needs and how it is made."""

    name: str
    location: Location
    dimensions: tuple[Dimension, ...]
    dependencies: tuple[Dependency, ...]
    action: Action | None
    origin: Origin
    description: str = ""
    owner: str = ""
    slo: Slo | None = None
    limits: Limits = Limits()

    @cached_property
    def dims(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(name)

    @property
    def time_dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dimensions if d.is_time)


@dataclass(frozen=True)
class SolverLimits:
    """Bounds on grounding user rules (``solver:`` in setpoint.yaml)."""

    memory_mb: int = 2048
    timeout_s: float = 60.0


#: the backoff before the first retry of an action that does not declare one
DEFAULT_BACKOFF = timedelta(seconds=10)


@dataclass(frozen=True)
class ObserveSettings:
    """How observing works (``observe:`` in setpoint.yaml).

    ``relist``: a file asset's files are all listed again at least this often;
    in between only directories whose time changed are (see
    :mod:`setpoint.adapters.inventory`). Zero lists every file every time.
    """

    relist: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class ApplySettings:
    """How ``setpoint apply`` runs actions (``apply:`` in setpoint.yaml).

    ``retry_wait``: an apply with nothing left to do but retries waits for those
    due within this long, rather than leaving them to the next apply.
    """

    concurrency: int = 4
    retry_wait: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class Schedule:
    """How the schedule is chosen and what an apply may do (``pools:``, ``schedule:`` and ``guardrails:``).

    ``pools``: concurrency limits by name; ``default`` (every action that names
    no pool) holds ``apply.concurrency`` unless declared. ``estimate``: a run's
    duration before the run record has any. ``time_limit``: how long the solver
    may look for a better schedule. A plan that rebuilds at least
    ``rebuild_share`` of an asset's present partitions, and at least
    ``rebuild_min``, needs confirmation (``apply --yes``) unless ``confirm_rebuild`` is false.
    """

    pools: dict[str, int] = field(default_factory=dict)
    estimate: timedelta = timedelta(minutes=1)
    time_limit: float = 1.0
    limits: Limits = Limits()
    rebuild_share: float = 0.5
    rebuild_min: int = 100
    confirm_rebuild: bool = True


@dataclass(frozen=True)
class Project:
    """A whole validated project: assets in dependency order plus rule files."""

    name: str
    root: Path
    config_file: str
    warehouse: Path
    state: Path
    timezone: str
    assets: dict[str, Asset] = field(default_factory=dict)
    rule_files: tuple[Path, ...] = ()
    limits: SolverLimits = SolverLimits()
    apply: ApplySettings = ApplySettings()
    observe: ObserveSettings = ObserveSettings()
    schedule: Schedule = field(default_factory=Schedule)

    def capacity(self, pool: str) -> int:
        """How many runs of a pool may run at once (the default pool: ``apply.concurrency`` unless declared)."""
        return self.schedule.pools.get(pool, self.apply.concurrency if pool == "default" else 1)

    def asset(self, name: str) -> Asset:
        from ..errors import UsageError
        from .schema import suggest

        try:
            return self.assets[name]
        except KeyError:
            raise UsageError(
                f"unknown asset {name!r}", hint=suggest(name, self.assets) or f"the assets are {', '.join(self.assets)}"
            ) from None

    def display(self, path: Path) -> str:
        """A path as the user should read it: relative to the project root when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)
