"""The one way tests run the `twgrpo` command: in-process through `twgrpo_cli.app.main` (fast, the real entry point
with its error handling; `run_cli`), or as a separate process where a test needs one — to kill it, to watch its
output as it runs, or to check what a fresh interpreter does (`run_cli_subprocess`, `start_cli`). Every test that
runs the command goes through here (simonw/llm's tests do the same with one `CliRunner`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paths import REPO

__all__ = [
    "REPO",
    "TWGRPO",
    "Result",
    "accelerate_launch",
    "hub_env",
    "run_cli",
    "run_cli_fresh",
    "run_cli_subprocess",
    "start_cli",
]

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

    def checked(self, args: tuple[Any, ...]) -> Result:
        """This result, or an AssertionError showing the command's stderr when it did not exit 0."""
        if self.code != 0:
            raise AssertionError(f"twgrpo {' '.join(map(str, args))} exited {self.code}:\n{self.stderr[-4000:]}")
        return self


@contextlib.contextmanager
def _environment(env: dict[str, str] | None) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cli(
    *args: str | os.PathLike,
    input: str | None = None,
    cwd: str | os.PathLike | None = None,
    env: dict[str, str] | None = None,
    check: bool = False,
) -> Result:
    """Run `twgrpo ARGS` in this process (like the console script: `main` prints errors and exits), with `env`
    added to the environment while it runs; `check`: fail the test unless it exits 0."""
    from twgrpo_cli.app import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin, old_cwd = sys.stdin, os.getcwd()
    sys.stdin = io.StringIO(input or "")
    code: int | str | None = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
    result = Result(code if isinstance(code, int) else (0 if code is None else 1), out.getvalue(), err.getvalue())
    return result.checked(args) if check else result


def run_cli_subprocess(
    *args: str | os.PathLike,
    input: str | None = None,
    cwd: str | os.PathLike | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    check: bool = False,
    inherit_env: bool = True,
    **popen: Any,
) -> Result:
    """Run `python -m twgrpo_cli ARGS` as a separate process, with `env` added to this one's environment (or, with
    `inherit_env=False`, as its whole environment); `popen` are more `subprocess.run` arguments (`preexec_fn`)."""
    proc = subprocess.run(
        [*TWGRPO, *map(str, args)],
        input=input,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**(os.environ if inherit_env else {}), **env},
        **popen,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    return result.checked(args) if check else result


# `twgrpo ARGV` run by `main` in a fresh interpreter, then the code in THEN; prints what it did as one JSON line
_FRESH = """
import contextlib, io, json, os, sys
sys.stdin = io.StringIO(os.environ.pop("TWGRPO_TEST_STDIN"))
from twgrpo_cli.app import main
out, err, code = io.StringIO(), io.StringIO(), 0
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
modules = sorted(sys.modules)
exec(os.environ.pop("TWGRPO_TEST_THEN"))
print(json.dumps({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "modules": modules}))
"""


def run_cli_fresh(*args: str | os.PathLike, input: str | None = None, then: str = "") -> tuple[Result, set[str]]:
    """Run `twgrpo ARGS` by `main` in a fresh interpreter and return its result and the modules it imported (what a
    command costs to start: `twgrpo --help` imports no command's module); `then` is Python run afterwards in the
    same process (e.g. `import torch`, which must still work)."""
    env = {**os.environ, "TWGRPO_TEST_STDIN": input or "", "TWGRPO_TEST_THEN": then}
    proc = subprocess.run(
        [sys.executable, "-c", _FRESH, *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )
    if proc.returncode != 0:
        raise AssertionError(f"the fresh interpreter failed:\n{proc.stderr[-4000:]}")
    done = json.loads(proc.stdout.splitlines()[-1])
    return Result(done["code"], done["stdout"], done["stderr"]), set(done["modules"])


def start_cli(
    *args: str | os.PathLike, cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen:
    """Start `python -m twgrpo_cli ARGS` and return the running process (to kill it, or read its output as it
    comes); `popen` are `subprocess.Popen` arguments (stdout, stderr, start_new_session…)."""
    return subprocess.Popen(
        [*TWGRPO, *map(str, args)], cwd=cwd, env=None if env is None else {**os.environ, **env}, **popen
    )


def hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A whole environment (for `inherit_env=False`) in which huggingface_hub finds no token, no cache and no
    setting of this machine's (no `HF_*` variable), its home in `tmp_path`, and reaches only what `extra` names
    (`HF_ENDPOINT=<fake hub>`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", **extra})
    return env


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
