"""Progress of long runs (issue 32.1): plain lines in a log file while the work runs, a rich bar on a terminal,
one reporter for every command."""

from __future__ import annotations

import io
import re
import subprocess
import time

import pytest
from cli_helpers import REPO, run_cli, start_cli
from eval_helpers import FakeOpenAIServer, text_records, write_set
from rich.console import Console
from test_hub_sources import hub  # noqa: F401 — the fake Hub fixture

from twgrpo_cli.progress import INTERVAL_ENV, PlainTask, Reporter, clock, progress_interval

LINE = re.compile(r"^(?P<label>.+) (?P<done>\d+)/(?P<total>\d+) · (?P<rate>[\d.]+|–) it/s · failed (?P<failed>\d+) · ")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain_task(total: int | None, interval: float = 30.0, **kw):
    out, clock_ = io.StringIO(), FakeClock()
    console = Console(file=out, width=200)
    task = PlainTask(console, "mmvu", total, kw.pop("completed", 0), "it", True, interval, clock_fn=clock_)
    task._stop.set()  # no heartbeat thread in the unit tests: the fake clock drives the lines
    return task, clock_, out


def test_a_plain_line_per_twentieth_of_the_work_at_most_one_per_sixth_of_the_interval():
    task, clock_, out = plain_task(625)
    for _ in range(40):  # 40 items in 4 s: the first twentieth (32) is done, but too soon after the start
        clock_.now += 0.1
        task.advance(1)
    assert out.getvalue() == ""
    clock_.now += 2.0  # 6 s after the start
    task.advance(8, failed=2)
    assert out.getvalue().splitlines() == ["mmvu 48/625 · 8.00 it/s · failed 2 · ETA 1:12"]
    clock_.now += 1.0
    task.advance(1)  # not a new twentieth yet: no line
    assert len(out.getvalue().splitlines()) == 1


def test_the_line_has_the_issue_s_shape_and_the_end_says_how_long_it_took():
    task, clock_, out = plain_task(625, completed=100)  # a resumed run: 100 done before, not in the rate
    clock_.now += 100
    task.advance(310, failed=2)
    line = out.getvalue().splitlines()[-1]
    assert line == "mmvu 410/625 · 3.10 it/s · failed 2 · ETA 1:09"
    assert LINE.match(line)
    clock_.now += 70
    task.advance(215)
    task.close()
    assert out.getvalue().splitlines()[-1] == "mmvu 625/625 · 3.09 it/s · failed 2 · took 2:50"


def test_a_short_run_prints_nothing():
    task, clock_, out = plain_task(6)
    for _ in range(6):
        clock_.now += 0.2
        task.advance(1)
    task.close()
    assert out.getvalue() == ""


def test_interval_zero_prints_every_update_and_no_repeated_last_line():
    task, clock_, out = plain_task(3, interval=0)
    for _ in range(3):
        clock_.now += 1
        task.advance(1)
    task.close()
    assert [m.group("done") for m in map(LINE.match, out.getvalue().splitlines())] == ["1", "2", "3"]


def test_an_unknown_total_and_bytes_have_no_eta():
    out = io.StringIO()
    task = PlainTask(Console(file=out, width=200), "video.zip", None, 0, "B", False, 0, clock_fn=FakeClock())
    task.update(total=4_000_000_000)
    task.advance(1_200_000_000)
    task.close()
    assert out.getvalue().splitlines()[0] == "video.zip 0 bytes/4.0 GB · – B/s · ETA –"
    assert out.getvalue().splitlines()[-1].startswith("video.zip 1.2 GB/4.0 GB · ")


def test_a_hung_batch_still_prints_a_line_per_interval():
    out = io.StringIO()
    reporter = Reporter(Console(file=out, width=200), interval=0.2)
    with reporter.task("mmvu", total=10, failures=True) as task:
        task.advance(3)
        time.sleep(0.7)  # nothing advances: the heartbeat prints anyway
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("mmvu 3/10 · ") for line in lines), lines


def test_a_terminal_gets_a_rich_bar_with_the_failed_count():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with Reporter(console, interval=30).task("mmvu · tiny", total=8, failures=True) as task:
        task.advance(4, failed=1)
    text = out.getvalue()
    assert "\x1b[" in text and "mmvu · tiny" in text and "4/8" in text and "failed 1" in text


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(INTERVAL_ENV, "2.5")
    assert progress_interval() == 2.5
    monkeypatch.delenv(INTERVAL_ENV)
    assert progress_interval() == 30.0
    monkeypatch.setenv(INTERVAL_ENV, "soon")
    result = run_cli("qai", "negate", "-", input="who picked up the ball\n")
    assert result.code == 2 and f"{INTERVAL_ENV}='soon'" in result.stderr
    assert clock(47) == "0:47" and clock(3723) == "1:02:03"


def test_qai_convert_and_negate_report_through_the_reporter(monkeypatch, tmp_path):
    monkeypatch.setenv(INTERVAL_ENV, "0")
    src = REPO / "examples" / "nextgqa_val_sample.json"
    result = run_cli("qai", "convert", src, "-o", tmp_path / "out.json")
    assert result.code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("inverting ")]
    assert lines and lines[-1].startswith("inverting 200/200 · ")
    negated = run_cli("qai", "negate", "-", input="who picked up the ball\nwhy did the boy run\n")
    assert negated.code == 0 and "negating 2/2 · " in negated.stderr


@pytest.mark.slow
def test_an_eval_log_file_shows_progress_while_the_run_is_still_going(tmp_path):
    """`twgrpo eval … 2>err.log &`: the log grows while the run is held up mid-way by its server."""
    data = write_set(tmp_path / "set.json", text_records(8))
    server = FakeOpenAIServer(hold_after=4)  # answers 4 requests, then holds the rest until released
    log = tmp_path / "err.log"
    try:
        with log.open("w") as err:
            proc = start_cli(
                *["eval", "--bench", "mmvu", "--data", data, "--model", "served-model", "--backend", "openai"],
                *["--api-base", server.url, "--batch-size", "2", "--allow-text-only", "--out", tmp_path / "run"],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={INTERVAL_ENV: "1"},
            )
            try:
                deadline = time.monotonic() + 120
                while not any(m and m.group("done") == "4" for m in map(LINE.match, log.read_text().splitlines())):
                    assert proc.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
                assert proc.poll() is None  # read while the run is still going
                line = next(m for m in map(LINE.match, log.read_text().splitlines()) if m and m.group("done") == "4")
                assert line.group("label") == "mmvu · served-model" and line.group("total") == "8"
                assert line.group("failed") == "0" and "\r" not in log.read_text()
            finally:
                server.release.set()
            assert proc.wait(120) == 0, log.read_text()
    finally:
        server.release.set()
        server.close()
    last = log.read_text().splitlines()[-1]
    assert last.startswith("mmvu · served-model 8/8 · ") and " · took " in last, log.read_text()


@pytest.mark.slow
def test_a_train_log_file_gets_one_line_per_logging_step_while_training(tiny_model_dir, tmp_path):
    """`twgrpo train … 2>train.log &`: a line per step (not a tqdm bar redrawn with carriage returns), read while
    the run is still training; then it is stopped."""
    log = tmp_path / "train.log"
    with log.open("w") as err:
        proc = start_cli(
            *["train", "--config", REPO / "examples" / "train_tiny.yaml", f"model={tiny_model_dir}"],
            *["-o", tmp_path / "run"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 300
            while not [line for line in log.read_text().splitlines() if "reward" in line and "loss" in line]:
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
            assert proc.poll() is None  # read while the run is still training
            assert "\r" not in log.read_text()
        finally:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("bench", "line"),
    [("mmvu", "mmvu videos 8/8"), ("videomme", "videomme video archives 2/2")],
)
@pytest.mark.usefixtures("hub")
def test_data_fetch_counts_files_and_archives_in_a_log(monkeypatch, bench, line):
    monkeypatch.setenv(INTERVAL_ENV, "0")
    err = run_cli("data", "fetch", "--bench", bench, "--videos", check=True).stderr.splitlines()
    assert any(text.startswith(line + " · ") for text in err), "\n".join(err)
