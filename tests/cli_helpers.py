"""The one way tests run the `twgrpo` command: in-process through `twgrpo_cli.app.main` (fast, the real
entry point with its error handling), or as a subprocess when a test needs a separate process (kill, env)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TWGRPO = [sys.executable, "-m", "twgrpo_cli"]


@dataclass
class Result:
    """Exit status and captured output of one `twgrpo` run."""

    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(*args: str | os.PathLike, input: str | None = None, cwd: str | os.PathLike | None = None) -> Result:
    """Run `twgrpo ARGS` in this process (like the console script: `main` prints errors and exits)."""
    from twgrpo_cli.app import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin, old_cwd = sys.stdin, os.getcwd()
    sys.stdin = io.StringIO(input or "")
    code: int | str | None = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
    return Result(code if isinstance(code, int) else (0 if code is None else 1), out.getvalue(), err.getvalue())


def run_cli_subprocess(
    *args: str | os.PathLike,
    input: str | None = None,
    cwd: str | os.PathLike | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> Result:
    """Run `python -m twgrpo_cli ARGS` as a separate process."""
    proc = subprocess.run(
        [*TWGRPO, *map(str, args)],
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def accelerate_launch(*options: str) -> list[str]:
    """`accelerate launch` of two CPU processes (no mixed precision, no dynamo) plus `options` (e.g. `--multi_gpu`,
    or `--use_deepspeed --deepspeed_config_file F`); the program and its arguments follow."""
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *options,
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
