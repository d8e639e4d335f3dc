"""Where users wait (issue 16): start-up, whole-process record I/O on a 67,160-record file, and negation.

Every figure is a whole `twgrpo` process, timed next to a baseline measured in the same run, with the ratio
and the issue's target:

- the 67,160-record file is NExT-GQA val ×20 with new ids (native JSON, written to a temp dir); `data load
  --bench nextgqa` turns it into a unified JSON that `data validate`, `data stats` and `publish --dry-run`
  read. Their baseline is the floor for the same file: `json.load` + `pyarrow.Table.from_pylist` + a parquet
  write, as one whole process like the commands (interpreter start-up and pyarrow's import included; the same
  work in a warm process is printed under the table) (target ≤ 2.5×). `qai convert` of the native file is
  held to 2.5× its floor plus the whole-process `qai negate` of the questions it selects.
- `qai negate` of one question (target ≤ 1.5 s; shown next to the floor of any spaCy program, importing spaCy
  and loading the same pipeline, too) and of the 3,358 NExT-GQA val questions against a plain spaCy
  `nlp.pipe` parse of them, whole-process too (target ≥ 4× faster).
- `twgrpo --help` (target ≤ 0.5 s).

Each row shows wall time and the child's CPU time: on a shared machine the CPU time is the steadier figure.

Run: .venv/bin/python benchmarks/bench_io.py   (or `make bench`)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data" / "nextgqa_val.json").resolve()
COPIES = 20
TWGRPO = [sys.executable, "-m", "twgrpo_cli"]


def _run(cmd: list[str], stdin: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _best(n: int, cmd: list[str], stdin: str | None = None) -> tuple[float, float]:
    runs = [_run(cmd, stdin) for _ in range(n)]
    return min(w for w, _ in runs), min(c for _, c in runs)


# The floor as a program of its own: interpreter start-up and pyarrow's import are paid by every command measured
# here, so they are part of the floor too.
FLOOR_SCRIPT = (
    "import json, sys, pyarrow as pa, pyarrow.parquet as pq\n"
    "with open(sys.argv[1], encoding='utf-8') as fh:\n"
    "    rows = json.load(fh)\n"
    "pq.write_table(pa.Table.from_pylist(rows), sys.argv[2])\n"
)


def _floor(path: Path, out: Path) -> tuple[float, float]:
    """`json.load` + `pyarrow.Table.from_pylist` + parquet write of `path`, one whole process (best of 2)."""
    return _best(2, [sys.executable, "-c", FLOOR_SCRIPT, str(path), str(out)])


def _floor_in_process(path: Path, out: Path) -> tuple[float, float]:
    """The same work inside this process, warm (pyarrow imported, second of two runs): printed for reference."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    best = (float("inf"), float("inf"))
    for _ in range(2):
        w0, c0 = time.perf_counter(), time.process_time()
        with path.open(encoding="utf-8") as fh:
            rows = json.load(fh)
        pq.write_table(pa.Table.from_pylist(rows), out)
        best = min(best, (time.perf_counter() - w0, time.process_time() - c0))
    return best


def _build(tmp: Path) -> tuple[Path, list[str]]:
    """The native 67,160-record file (ids made unique per copy) and the 3,358 distinct questions."""
    items = json.loads(DATA.read_text(encoding="utf-8"))
    big = [{**item, "id": f"{item['id']}_c{k}"} for k in range(COPIES) for item in items]
    path = tmp / f"nextgqa_val_x{COPIES}.json"
    path.write_text(json.dumps(big), encoding="utf-8")
    return path, [item["question"] for item in items]


def _selected_questions(native: Path) -> list[str]:
    """The questions `qai convert` (ratio 0.5, seed 0) sends to the negator: single-answer records it draws."""
    from twgrpo_data.qai.invert import record_rng
    from twgrpo_data.sources import open_input

    records = open_input(native).raise_or_skip(False).records
    return [r.question for r in records if not r.is_multi_answer and record_rng(0, r.id).random() < 0.5]


def main() -> int:
    from twgrpo_data.qai.negate import Negator

    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at start "
        "(a shared machine makes wall times noisy; CPU times are steadier)\n"
    )
    model = Negator().info()["spacy_model"]
    rows: list[tuple[str, tuple[float, float], str, tuple[float, float], str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_io.") as name:
        tmp = Path(name)
        native, questions = _build(tmp)
        unified = tmp / "unified.json"
        floor_native = _floor(native, tmp / "floor.parquet")
        t_load = _run(TWGRPO + ["data", "load", "--bench", "nextgqa", str(native), "-o", str(unified)])
        floor_unified = _floor(unified, tmp / "floor.parquet")
        warm = {
            name: _floor_in_process(p, tmp / "floor.parquet") for name, p in (("native", native), ("unified", unified))
        }
        n = len(json.loads(unified.read_text(encoding="utf-8")))
        floor_name = "floor: json.load + Table.from_pylist + parquet"  # a whole process, like every row
        rows.append(
            ("data load --bench nextgqa -o unified.json", t_load, floor_name + " (native)", floor_native, "≤ 2.5×")
        )
        for label, args in (
            ("data validate", ["data", "validate", str(unified)]),
            ("data stats", ["data", "stats", str(unified)]),
            (
                "publish --dry-run",
                ["publish", str(unified), "--repo-id", "me/bench", "--dry-run", "--out", str(tmp / "preview")],
            ),
        ):
            rows.append((label, _run(TWGRPO + args), floor_name + " (unified)", floor_unified, "≤ 2.5×"))
        selected = "\n".join(_selected_questions(native)) + "\n"
        t_negate_selected = _run(TWGRPO + ["qai", "negate", "-"], stdin=selected)
        t_convert = _run(TWGRPO + ["qai", "convert", str(native), "-o", str(tmp / "qai.json")])
        allowance = tuple(2.5 * f + s for f, s in zip(floor_native, t_negate_selected))
        rows.append(
            (
                "qai convert (native → unified JSON)",
                t_convert,
                "2.5 × floor (native) + qai negate of its selected questions",
                allowance,
                "≤ 1×",
            )
        )

        questions_file = tmp / "questions.txt"
        questions_file.write_text("\n".join(questions) + "\n", encoding="utf-8")
        spacy_parse = [
            sys.executable,
            "-c",
            "import sys, spacy; nlp = spacy.load(sys.argv[1]); "
            "list(nlp.pipe(open(sys.argv[2], encoding='utf-8').read().splitlines()))",
            model,
            str(questions_file),
        ]
        rows.append(
            (
                f"qai negate, {len(questions)} NExT-GQA val questions",
                _best(2, TWGRPO + ["qai", "negate", str(questions_file)]),
                f"plain spaCy parse, whole process ({model})",
                _best(2, spacy_parse),
                "≤ 0.25×",
            )
        )
        one = _best(3, TWGRPO + ["qai", "negate", "-"], stdin="who picked up the ball\n")
        rows.append(("qai negate, one question", one, "target 1.5 s", (1.5, 1.5), "≤ 1×"))
        # What any spaCy program pays before its first parse: import (torch kept out, as twgrpo does) + load.
        spacy_one = [
            sys.executable,
            "-c",
            "import sys; sys.modules['torch'] = None; import spacy; del sys.modules['torch']; "
            "nlp = spacy.load(sys.argv[1], exclude=['ner', 'lemmatizer', 'attribute_ruler', 'senter']); "
            "nlp('who picked up the ball')",
            model,
        ]
        rows.append(
            ("qai negate, one question", one, f"floor: import spacy + load {model} + parse", _best(3, spacy_one), "—")
        )
        rows.append(("twgrpo --help", _best(3, TWGRPO + ["--help"]), "target 0.5 s", (0.5, 0.5), "≤ 1×"))

    print(f"{n:,} records (NExT-GQA val ×{COPIES}, new ids); every figure is one whole process\n")
    print(
        f"{'':44} {'wall s':>7} {'cpu s':>7}   {'baseline':<58} {'wall s':>7} {'cpu s':>7} "
        f"{'ratio wall':>10} {'ratio cpu':>9}  target"
    )
    for label, (wall, cpu), base_name, (base_wall, base_cpu), target in rows:
        print(
            f"{label:<44} {wall:7.2f} {cpu:7.2f}   {base_name:<58} {base_wall:7.2f} {base_cpu:7.2f} "
            f"{wall / base_wall:9.2f}× {cpu / base_cpu:8.2f}×  {target}"
        )
    print(
        "\nThe floor is a whole process, as every command is. The same work inside one warm process (pyarrow "
        "already imported, no start-up): "
        + ", ".join(f"{name} {w:.2f} s wall / {c:.2f} s CPU" for name, (w, c) in warm.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
