"""DeepSpeed runs resume (issue 29.2): the shipped ZeRO configs under `accelerate launch --num_processes 2` on
the CPU (DeepSpeed's CPU accelerator, gloo), killed after a checkpoint and resumed, end with the weights of the
uninterrupted run. Without `optimizer.pt` (ZeRO keeps its own `global_stepN/` layout) the resume check used to
refuse every DeepSpeed checkpoint."""

from __future__ import annotations

import json
import subprocess

import pytest
from cli_helpers import accelerate_launch, run_cli_subprocess
from paths import REPO, TINY_YAML
from train_helpers import KILLED, TRAIN_ENV, weights

pytest.importorskip("deepspeed")
pytestmark = pytest.mark.slow

CONFIGS = REPO / "train" / "configs"
STAGES = {"zero2": [], "zero3_offload": ["--zero3_init_flag", "true"]}


def launch(stage: str) -> list[str]:
    """`accelerate launch` of two processes with a shipped DeepSpeed file (its "auto" values follow the run:
    bf16 off on the CPU)."""
    return accelerate_launch(
        "--use_deepspeed", "--deepspeed_config_file", str(CONFIGS / f"{stage}.json"), *STAGES[stage]
    )


def run(args: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=TRAIN_ENV, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("deepspeed")
    run_cli_subprocess("dev", "tiny-model", "T", env=TRAIN_ENV, cwd=root, check=True)
    return root


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_killed_deepspeed_run_resumes_to_the_uninterrupted_weights(base, stage):
    train = ["--config", str(TINY_YAML), "model=T"]
    full = run(launch(stage) + ["-m", "twgrpo_cli", "train", *train, "-o", f"{stage}-A"], base)
    assert full.returncode == 0, full.stderr[-3000:]
    checkpoint = base / f"{stage}-A" / "checkpoint-2"
    assert not (checkpoint / "optimizer.pt").exists()  # DeepSpeed's own layout
    assert (
        checkpoint / (checkpoint / "latest").read_text().strip() / "zero_pp_rank_1_mp_rank_00_optim_states.pt"
    ).is_file()

    # both processes SIGKILL themselves once checkpoint-2 is saved
    killed = run(
        launch(stage) + [*KILLED[1:], "after-save", "2", "--", *train, "-o", f"{stage}-B"],
        base,
    )
    assert killed.returncode != 0 and not (base / f"{stage}-B" / "model.safetensors").exists()
    resumed = run(launch(stage) + ["-m", "twgrpo_cli", "train", *train, "-o", f"{stage}-B", "--resume"], base)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("done: model") == 2

    a, b = weights(base / f"{stage}-A" / "model.safetensors"), weights(base / f"{stage}-B" / "model.safetensors")
    assert a.keys() == b.keys()
    # gloo's reductions may round the last bit differently between launches
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) <= 1e-6
    steps = [json.loads(line) for line in (base / f"{stage}-B" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in steps if "reward" in r] == [1, 2, 3, 4]
    state = json.loads((base / f"{stage}-B" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
