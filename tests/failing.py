"""Where property tests keep a failing example: a runnable project directory, named in the report."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import note

KEEP = Path(tempfile.gettempdir()) / "setpoint-failing-projects"


def keep(root: Path, how: str) -> Path:
    """Copy the project at ``root`` out of its temporary directory and say where it is and ``how`` to replay
    it (``{root}`` in ``how`` is the kept path)."""
    KEEP.mkdir(exist_ok=True)
    kept = KEEP / root.parent.name
    shutil.copytree(root, kept, dirs_exist_ok=True)
    note(f"project kept at {kept} ({how.format(root=kept)})")
    return kept
