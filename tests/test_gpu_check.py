"""The prepared GPU check (issue 19): its dry run on the CPU, its time budget, and the wheel-closure check."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


gpu_check = _load(REPO / "benchmarks" / "gpu_check.py")
gpu_wheels = _load(REPO / "scripts" / "gpu_wheels.py")


# ----------------------------------------------------------------------------------------------------------
# the dry run: every part on the CPU, through the shell wrapper, results to $OUT


@pytest.mark.slow
def test_dry_run_measures_every_part(tmp_path, shared):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    # a generous budget: on a loaded machine parts must not be skipped (CI finishes in well under 3 minutes)
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run", "--budget-s", "900"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "twgrpo GPU check (dry run" in done.stdout
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["dry_run"] is True
    parts = report["parts"]
    assert {name: part["status"] for name, part in parts.items()} == {
        "token_weights": "ok",
        "train_tiny": "ok",
        "eval": "ok",
        "rollouts_tiny": "skipped",  # vLLM lives in its own venv (its run: tests/vllm_backend/test_vllm_rollouts.py)
    }
    assert parts["rollouts_tiny"]["reason"].startswith("vLLM is not installed here")

    weights = parts["token_weights"]
    assert {(r["dtype"], r["path"]) for r in weights["rows"]} == {
        (d, p) for d in ("bfloat16", "float32") for p in ("chunked", "from_logits")
    }
    assert all(r["time_s"] > 0 and r["peak_gib"] is None for r in weights["rows"])  # no CUDA memory on the CPU
    assert all(r["max_abs_diff"] <= gpu_check.WEIGHT_TOLERANCE[r["dtype"]] for r in weights["rows"])

    train = parts["train_tiny"]
    assert train["setting"]["arch"] == "tiny" and train["setting"]["frames"] == 16
    rows = {r["loss_type"]: r for r in train["rows"]}
    assert set(rows) == {"tw_grpo", "grpo"}
    for row in rows.values():
        assert row["s_per_step"] > 0 and row["metrics"]["grad_norm"] > 0
        assert row["metrics"]["completions/mean_length"] > 0
    assert 1.0 <= rows["tw_grpo"]["metrics"]["tw/weight_mean"] <= 1 + gpu_check.ALPHA  # weights in [1, 1 + α]
    assert "tw/weight_mean" not in rows["grpo"]["metrics"]  # the baseline has no token weights

    ev = parts["eval"]
    assert ev["device"] == "cpu" and ev["samples"] == ev["setting"]["items"] == 2
    assert ev["samples_per_s"] > 0


@pytest.mark.slow
def test_spent_budget_skips_every_part(tmp_path, shared, capsys):
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--dry-run", "--budget-s", "0", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [p["status"] for p in report["parts"].values()] == ["skipped"] * 4
    assert all("s left, needs about" in p["reason"] for p in report["parts"].values())
    assert "skipped token_weights" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------------------
# run_part: ok, failed, stopped at the budget, skipped


def _run(fn, budget_s: float, need: float = 0.0):
    plan = gpu_check.Plan(**{**gpu_check.DRY_PLAN.__dict__, "estimates": {"part": need}})
    report = {"parts": {}}
    saves = []
    gpu_check.run_part(
        "part",
        fn,
        plan,
        gpu_check.Budget(budget_s),
        report,
        gpu_check.Console(quiet=True),
        lambda: saves.append(dict(report["parts"])),
    )
    assert saves and saves[-1] == report["parts"]  # saved after every part
    return report["parts"]["part"]


def test_run_part_records_result():
    part = _run(lambda: {"value": 3}, budget_s=10)
    assert part["status"] == "ok" and part["value"] == 3 and part["wall_s"] >= 0


def test_run_part_records_failure_and_goes_on(capsys):
    def broken():
        raise RuntimeError("CUDA error: an illegal memory access\nsecond line")

    part = _run(broken, budget_s=10)
    assert part == {
        "status": "failed",
        "reason": "RuntimeError: CUDA error: an illegal memory access",
        "wall_s": part["wall_s"],
    }
    assert "Traceback" in capsys.readouterr().err


def test_run_part_stops_at_the_budget():
    def slow_and_forgiving():  # like the eval runner, which records any Exception as an item failure
        try:
            time.sleep(30)
        except Exception:  # noqa: BLE001
            pass
        return {}

    started = time.perf_counter()
    part = _run(slow_and_forgiving, budget_s=0.3)
    assert part["status"] == "stopped" and "budget" in part["reason"]
    assert time.perf_counter() - started < 5


def test_run_part_skips_what_the_budget_cannot_cover():
    part = _run(lambda: pytest.fail("must not run"), budget_s=10, need=60)
    assert part["status"] == "skipped" and "needs about 60 s" in part["reason"]


@pytest.mark.parametrize(
    ("lengths", "comparable"),
    [
        ({"hf_generate": 64.0, "vllm": 60.4}, True),
        ({"hf_generate": 64.0, "vllm": 3.0}, False),  # one path stopped early: more completions/s, less work
        ({"hf_generate": 0.0, "vllm": 0.0}, False),
        ({"hf_generate": 64.0, "vllm": None}, False),  # a path that logged no length
    ],
)
def test_rollout_throughputs_compare_only_paths_that_wrote_as_much_text(lengths, comparable):
    if comparable:
        gpu_check.check_same_text(lengths)
    else:
        with pytest.raises(AssertionError, match="would not compare"):
            gpu_check.check_same_text(lengths)


def test_architectures_are_qwen25_vl():
    # head_dim / 2 must equal the mrope sections' sum; vision output feeds the text model
    for arch, spec in gpu_check.ARCHITECTURES.items():
        text = spec["text"]
        assert sum(text["mrope_section"]) == text["hidden_size"] // text["num_attention_heads"] // 2, arch
        assert set(spec["vision"]["fullatt_block_indexes"]) <= set(range(spec["vision"]["depth"])), arch
    assert gpu_check.ARCHITECTURES["3b"]["text"]["vocab_size"] == gpu_check.GPU_PLAN.vocab == 151_936


# ----------------------------------------------------------------------------------------------------------
# scripts/gpu_wheels.py: the carried wheels' dependencies against the image


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}\n".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return path


def test_wheel_closure_names_each_unmet_dependency(tmp_path):
    image = gpu_wheels.read_image(REPO / "scripts" / "gpu-image.txt")
    assert image["transformers"] is not None and image["rich"] is None  # known version vs presence only
    wheels = [
        _wheel(
            tmp_path,
            "alpha",
            "1.0",
            ["beta>=1", "rich", "torch>=2.4", "pytest; extra == 'test'", "ancient; python_version < '3.0'"],
        ),
        _wheel(tmp_path, "beta", "1.2", []),
    ]
    assert gpu_wheels.check(wheels, image) == []

    wheels.append(_wheel(tmp_path, "gamma", "0.1", ["torch>=2.12", "not-in-the-image>=1", "beta<1"]))
    problems = gpu_wheels.check(wheels, image)
    assert problems == [
        "gamma-0.1-py3-none-any.whl: needs torch>=2.12, but torch 2.11.0 is in the image",
        "gamma-0.1-py3-none-any.whl: needs not-in-the-image>=1, which is neither carried nor in the image",
        "gamma-0.1-py3-none-any.whl: needs beta<1, but beta 1.2 is carried",
    ]


def test_wheel_closure_refuses_two_versions(tmp_path):
    (tmp_path / "old").mkdir()
    wheels = [_wheel(tmp_path, "beta", "1.2", []), _wheel(tmp_path / "old", "beta", "1.0", [])]
    assert gpu_wheels.check(wheels, {}) == ["beta-1.0-py3-none-any.whl: a second version of beta (also 1.2); keep one"]


def test_shipped_wheel_list_is_pinned():
    lines = [line.split("#")[0].strip() for line in (REPO / "scripts" / "gpu-wheels.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    assert pins and all("==" in pin for pin in pins)
    assert {pin.split("==")[0] for pin in pins} >= {"trl", "datasets", "decord", "av"}
