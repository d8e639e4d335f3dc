"""The LLM judge of the official protocols (issue 28.3), against a deterministic fake judge on 127.0.0.1:
MMVU's multiple-choice and open-ended items scored and reported apart, a killed and resumed run that asks
the judge nothing twice, `eval rescore` without any server, an unreachable judge stopped before the first
item, and the judge's key kept out of every file."""

from __future__ import annotations

import json

import pytest
from eval_helpers import FakeJudgeServer, ScriptBackend, metrics, run_with
from paths import FIXTURES, VIDEOS

import twgrpo_eval.runner as runner
from twgrpo_data.benchmarks import tempcompass
from twgrpo_data.errors import TwgrpoError
from twgrpo_eval.judge import JUDGEMENTS, read_judgements
from twgrpo_eval.rescore import rescore_log
from twgrpo_eval.run_folder import read_samples

SECRET = "sk-judge-0123456789abcdef"
# the model's answers: right for validation_0 (open-ended) and validation_3 (multiple-choice)
ANSWERS = {
    "validation_0": "The camera zooms while dollying: Dolly Zoom.",
    "validation_2": "It is breadth-first search.",
    "validation_3": "Therefore, the final answer is: B",
    "validation_5": "Therefore, the final answer is: D",
}


@pytest.fixture
def judge():
    server = FakeJudgeServer()
    yield server
    server.close()


def _mmvu(tmp_path):
    """MMVU's validation.json (the 4 fixture items: 2 open-ended, 2 multiple-choice) with its videos."""
    raws = json.loads((FIXTURES / "mmvu" / "validation.json").read_text(encoding="utf-8"))
    root = tmp_path / "videos"
    for raw in raws:
        rel = raw["video"].split("/resolve/main/", 1)[1]
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(VIDEOS / "video_12176.mp4")
    return FIXTURES / "mmvu" / "validation.json", root


def _run(tmp_path, data, root, judge, backend=None, **kw):
    return run_with(
        tmp_path,
        data,
        backend or ScriptBackend(ANSWERS),
        bench="mmvu",
        protocol="official",
        frames=16,
        video_root=str(root),
        judge_model=judge.model,
        judge_api_base=judge.url,
        judge_options={"api_key": SECRET},
        batch_size=2,
        **kw,
    )


def test_mmvu_run_scores_multiple_choice_and_open_ended_with_the_judge(tmp_path, judge, shared):
    data, root = _mmvu(tmp_path)
    results = _run(tmp_path, data, root, judge)
    assert results["n"] == 4 and results["accuracy"] == 50.0 and results["n_failed"] == 0
    assert {k: (b["n"], b["accuracy"]) for k, b in results["by_kind"].items()} == {
        "multiple-choice": (2, 50.0),
        "open-ended": (2, 50.0),
    }
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    oe = lines["validation_0"]
    assert oe["gold"] == [] and oe["options"] == [] and oe["kind"] == "open-ended" and oe["strict"] == 1.0
    assert oe["reference"]["answer"] == "Dolly Zoom"
    (judged,) = oe["judgements"]  # the judge's prompt and verdict, per sample
    assert "Ground Truth Answer: Dolly Zoom" in judged["messages"][1]["content"]
    assert json.loads(judged["reply"]) == {"extracted_answer": ANSWERS["validation_0"][:20], "correct": True}
    assert judged["params"]["response_format"]["type"] == "json_schema"
    assert sum(judge.asked.values()) == 4 and set(judge.asked.values()) == {1}
    frames = lines["validation_3"]["frame_indices"]  # 1 fps of a 5.12 s video: 5 frames
    assert frames == [0, 31, 63, 95, 127]


def test_a_killed_and_resumed_run_asks_the_judge_for_no_item_twice(tmp_path, judge, shared, monkeypatch):
    data, root = _mmvu(tmp_path)
    writes = []
    original = runner.append_lines

    def killed_on_second_write(path):
        write = original(path)

        def maybe(lines):
            writes.append(len(lines))
            if len(writes) == 2:  # the second batch was answered and judged, then the process died
                raise KeyboardInterrupt
            write(lines)

        return maybe

    monkeypatch.setattr(runner, "append_lines", killed_on_second_write)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, data, root, judge)
    assert sum(judge.asked.values()) == 4  # both batches were judged; only the first reached samples.jsonl
    assert len(read_samples(tmp_path / "run" / "samples.jsonl")) == 2
    assert len(read_judgements(tmp_path / "run" / JUDGEMENTS)) == 4
    monkeypatch.setattr(runner, "append_lines", original)
    results = _run(tmp_path, data, root, judge)
    assert results["n"] == 4 and results["accuracy"] == 50.0
    assert sum(judge.asked.values()) == 4 and set(judge.asked.values()) == {1}  # nothing asked again
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["sessions"][-1]["judge"]["asked"] == 0


def test_rescore_reads_the_recorded_verdicts_without_a_server(tmp_path, judge, shared):
    data, root = _mmvu(tmp_path)
    results = _run(tmp_path, data, root, judge)
    judge.close()
    log = rescore_log(tmp_path / "run" / "samples.jsonl")
    assert log.parser == "official" and "mmvu's official scorer" in log.parser_reason
    assert metrics(log.summary()) == metrics(results)
    with pytest.raises(TwgrpoError, match="--parser"):
        rescore_log(tmp_path / "run" / "samples.jsonl", "twgrpo")


def test_an_unreachable_judge_stops_the_run_before_its_first_item(tmp_path, shared):
    data, root = _mmvu(tmp_path)

    def no_model(name, config):
        raise AssertionError("the model must not load when the judge cannot be reached")

    with pytest.raises(TwgrpoError, match="--judge-model: no usable OpenAI-compatible server at .*--judge-api-base"):
        run_with(
            tmp_path, data, ScriptBackend(ANSWERS), bench="mmvu", protocol="official", frames=16, video_root=str(root),
            judge_model="judge-model", judge_api_base="http://127.0.0.1:9/v1",
        )  # fmt: skip
    assert not (tmp_path / "run").exists()
    server = FakeJudgeServer(model="other")
    try:
        with pytest.raises(
            TwgrpoError, match="serves \\['other'\\], not 'judge-model'; pass the served name as --judge-model"
        ):
            _run(tmp_path, data, root, _Named(server))
    finally:
        server.close()
    assert not (tmp_path / "run").exists()
    with pytest.raises(TwgrpoError, match="--judge-model: mmvu's official scoring asks an LLM judge"):
        run_with(tmp_path, data, ScriptBackend(ANSWERS), bench="mmvu", protocol="official", frames=16)


def _rules_read(line: dict) -> int | None:
    """What TempCompass's rules make of a sample's reply (None: they cannot tell; captioning has none)."""
    ref, said = line["reference"], line["output"]
    if line["kind"] == "multi-choice":
        return tempcompass.multi_choice_rule(said, ref["answer"])
    if line["kind"] == "yes_no":
        return tempcompass.yes_no_rule(said, ref["answer"])
    if line["kind"] == "caption_matching":
        return tempcompass.caption_matching_rule(said, ref["question"], ref["answer"])
    return None


class _Named:
    """A judge server seen under another served name than the run asks for."""

    def __init__(self, server):
        self.model, self.url = "judge-model", server.url


def test_the_judges_key_reaches_the_server_and_no_file(tmp_path, judge, shared):
    data, root = _mmvu(tmp_path)
    _run(tmp_path, data, root, judge)
    assert f"Bearer {SECRET}" in judge.auth
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["judge_options"] == {"api_key": "<redacted>"} and config["judge_model"] == judge.model
    for path in (tmp_path / "run").iterdir():
        assert SECRET not in path.read_text(encoding="utf-8"), path


def test_tempcompass_asks_the_judge_only_where_its_rules_cannot_tell(tmp_path, judge, shared):
    root = tmp_path / "videos"
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "1034419625.mp4").symlink_to(VIDEOS / "video_12176.mp4")
    questions = tmp_path / "questions"  # TempCompass's four files, cut to one video's action questions
    questions.mkdir()
    for path in (FIXTURES / "tempcompass" / "questions").glob("*.json"):
        items = json.loads(path.read_text(encoding="utf-8"))["1034419625"]["action"][:2]
        (questions / path.name).write_text(json.dumps({"1034419625": {"action": items}}), encoding="utf-8")

    def answer(request):
        task = request.id.split("_")[-2]
        return {
            "multi-choice": "A",  # a bare letter: the rules decide
            "no": "I think the man is dunking.",  # yes_no: no yes/no first, the judge decides
            "matching": "Option 2",
            "captioning": "A man is dunking a basketball.",  # always the judge
        }[task]

    results = run_with(
        tmp_path, questions, ScriptBackend(answer), bench="tempcompass",
        protocol="official", video_root=str(root), frames=16, min_pixels=128 * 28 * 28, max_pixels=720 * 720,
        judge_model=judge.model, judge_api_base=judge.url,
    )  # fmt: skip
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    kinds = {line["kind"] for line in lines.values()}
    assert kinds == {"multi-choice", "yes_no", "caption_matching", "captioning"} == set(results["by_kind"])
    for line in lines.values():
        assert bool(line["judgements"]) == (_rules_read(line) is None), line["id"]
    assert {line["kind"] for line in lines.values() if line["judgements"]} >= {"yes_no", "captioning"}
    questions = {j["messages"][-1]["content"] for line in lines.values() for j in line["judgements"]}
    assert set(judge.asked) == questions and set(judge.asked.values()) == {1}  # a repeated question: asked once
    caption = next(line for line in lines.values() if line["kind"] == "captioning")
    assert caption["strict"] == 1.0 and caption["parsed"].endswith("dunking a basketball")
    assert results["n_failed"] == 0
