"""Shell actions: a command run without a shell, partition values in argv items and the environment.

The argv is declared as a list; placeholders fill whole values into single
items and no shell ever parses the result, so a value such as ``$(rm -rf ~)``
or ``a b "c"`` reaches the program as it is. The run's output goes to
``<state dir>/logs/<run id>.out`` and ``.err``; the record keeps their tails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from ..project.action import bind, environment, expand_argv
from .execute import Context, Outcome, RunRequest, last_line, tail


def run_environment(request: RunRequest, context: Context) -> dict[str, str]:
    """The variables a run sees besides the inherited ones."""
    action = request.asset.action
    assert action is not None
    params = bind(action, list(request.units))
    return {
        **environment(params),
        "SETPOINT_ASSET": request.asset.name,
        "SETPOINT_RUN_ID": request.run_id,
        "SETPOINT_ATTEMPT": str(request.attempt),
        "SETPOINT_PARTITIONS": json.dumps([dict(p) for p in request.partitions]),
        "SETPOINT_PROJECT": str(context.project.root),
        "SETPOINT_WAREHOUSE": str(context.project.warehouse),
    }


#: runs the command once a line "go" arrives on stdin, with stdin then empty; ends with 75 (and runs
#: nothing) when the pipe closes first, i.e. when the apply died before the process was on record
GATE = 'IFS= read -r go || exit 75; [ "$go" = go ] || exit 75; exec "$@" </dev/null'


class ShellExecutor:
    def __init__(self, context: Context) -> None:
        self.context = context

    def run(self, request: RunRequest) -> Outcome:
        action = request.asset.action
        assert action is not None and isinstance(action.definition, tuple)
        argv = expand_argv(action.definition, bind(action, list(request.units)))
        env = {**os.environ, **run_environment(request, self.context)}
        logs = self.context.log_dir
        logs.mkdir(parents=True, exist_ok=True)
        out_path, err_path = logs / f"{request.run_id}.out", logs / f"{request.run_id}.err"
        timeout = action.timeout.total_seconds() if action.timeout else None
        if action.detach is not None:  # the exit status outlives this apply in a file, for whoever comes next
            status = logs / f"{request.run_id}.exit"
            argv = ["sh", "-c", '"$@"; c=$?; echo $c > "$0.tmp" && mv "$0.tmp" "$0"; exit $c', str(status), *argv]
        gated = self.context.on_process is not None
        if gated:  # the work waits until its process is on record: an apply killed before that starts nothing
            program = argv[0]
            found = shutil.which(program, path=env.get("PATH")) if os.sep not in program else \
                (program if os.access(self.context.project.root / program, os.X_OK) else None)
            if found is None:
                return Outcome(False, error=f"cannot start {program!r}: No such file or directory")
            argv = ["sh", "-c", GATE, "setpoint-gate", *argv]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                proc = subprocess.Popen(argv, cwd=self.context.project.root, env=env,
                                        stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
                                        stdout=out, stderr=err, start_new_session=True)
            except OSError as exc:
                return Outcome(False, error=f"cannot start {argv[0]!r}: {exc.strerror or exc}")
        if gated:
            assert self.context.on_process is not None and proc.stdin is not None
            self.context.on_process(request.run_id, proc.pid)
            try:
                proc.stdin.write(b"go\n")
                proc.stdin.close()
            except OSError:  # it has ended already (its shell could not start): the exit status says why
                pass
        if action.detach is not None:  # it goes on in its own session, past this apply
            self.context.detached[request.run_id] = proc
            return Outcome(True, detached=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: children too
            proc.wait()
            stdout, stderr = _tails(out_path, err_path)
            return Outcome(False, f"timed out after {timeout:g} s and was killed", proc.returncode, stdout, stderr)
        return _outcome(code, *_tails(out_path, err_path))


def _tails(out_path: Path, err_path: Path) -> tuple[str | None, str | None]:
    return (tail(out_path.read_bytes()) if out_path.exists() else None,
            tail(err_path.read_bytes()) if err_path.exists() else None)


def _outcome(code: int, stdout: str | None, stderr: str | None) -> Outcome:
    if code != 0:
        said = last_line(stderr) or last_line(stdout)
        what = f"exit {code}" if code > 0 else f"killed by signal {-code}"
        return Outcome(False, f"{what}: {said}" if said else what, code, stdout, stderr)
    return Outcome(True, None, 0, stdout, stderr)


def ended(proc: subprocess.Popen, run_id: str, log_dir: Path) -> Outcome | None:
    """How a detached command ended, once it has (None while it runs)."""
    code = proc.poll()
    if code is None:
        return None
    return _outcome(code, *_tails(log_dir / f"{run_id}.out", log_dir / f"{run_id}.err"))


def exit_status(run_id: str, log_dir: Path) -> Outcome | None:
    """How a detached command ended, from the status it left behind (None if it left none)."""
    try:
        code = int((log_dir / f"{run_id}.exit").read_text().strip())
    except (OSError, ValueError):
        return None
    return _outcome(code, *_tails(log_dir / f"{run_id}.out", log_dir / f"{run_id}.err"))
