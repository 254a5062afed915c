"""``setpoint init``: copy the quickstart project into a directory."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import UsageError

TEMPLATE = Path(__file__).resolve().parent / "templates" / "quickstart"


def template_files() -> list[Path]:
    """The quickstart's files, relative to the template (no generated state)."""
    return sorted(p.relative_to(TEMPLATE) for p in TEMPLATE.rglob("*")
                  if p.is_file() and p.suffix not in (".duckdb", ".wal", ".pyc") and ".setpoint" not in p.parts
                  and "__pycache__" not in p.parts and p.name != "__init__.py")


def init_project(directory: Path) -> list[Path]:
    """Create a working project in ``directory`` (which must be absent or empty)."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty", hint="choose a new directory; init never overwrites files")
    created = []
    for rel in template_files():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE / rel, target)
        created.append(target)
    return created
