"""`--protocol official`: each benchmark's own prompts, frames, decoding and scorer, checked character for
character against the benchmark's code on its own files (issue 28.2).

Sources: what the benchmarks' code says is either vendored as test data with its licence
(`tests/data/official/`, see its README) or reimplemented below from the quoted code, with a link.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template
from types import SimpleNamespace

import numpy as np
import pytest
from cli_helpers import run_cli
from eval_helpers import ScriptBackend, run_with
from hypothesis import given
from hypothesis import strategies as st
from paths import FIXTURES, VIDEOS

from twgrpo_data.benchmarks import load_benchmark, mmvu, mvbench, tempcompass, videomme
from twgrpo_data.benchmarks.facts import JudgeUnreadable
from twgrpo_data.errors import TwgrpoError
from twgrpo_data.record import Record
from twgrpo_eval.run_folder import read_samples

OFFICIAL = Path(__file__).parent / "data" / "official"
MVBENCH_NB = json.loads((OFFICIAL / "mvbench_notebook.json").read_text(encoding="utf-8"))
VIDEOMME_README = json.loads((OFFICIAL / "videomme_readme_prompts.json").read_text(encoding="utf-8"))
TEMPCOMPASS = json.loads((OFFICIAL / "tempcompass_prompts.json").read_text(encoding="utf-8"))


def _link(root: Path, rel: str, video: str = "video1.mp4") -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(VIDEOS / video)


# ----------------------------------------------------------------------------------------------------------
# MVBench: OpenGVLab/Ask-Anything video_chat2/mvbench.ipynb (its evaluation cell is vendored), as VLMEvalKit
# ports it to chat models: https://github.com/open-compass/VLMEvalKit/blob/main/vlmeval/dataset/mvbench.py


def _notebook_qa_template(data: dict) -> tuple[str, str]:
    """`MVBench_dataset.qa_template` (mvbench.ipynb, cell 12), reimplemented from the notebook."""
    question = f"Question: {data['question']}\n"
    question += "Options:\n"
    answer_idx = -1
    for idx, c in enumerate(data["candidates"]):
        question += f"({chr(ord('A') + idx)}) {c}\n"
        if c == data["answer"]:
            answer_idx = idx
    return question.rstrip(), f"({chr(ord('A') + answer_idx)}) {data['answer']}"


def _native_mvbench() -> list[tuple[dict, Record]]:
    out = []
    for path in sorted((FIXTURES / "mvbench" / "json").glob("*.json")):
        raws = json.loads(path.read_text(encoding="utf-8"))
        out += list(zip(raws, load_benchmark("mvbench", path).records))
    return out


def test_mvbench_prompt_is_the_notebooks_for_every_fixture_item(shared):
    pairs = _native_mvbench()
    assert len(pairs) >= 14
    for raw, record in pairs:
        prompt = mvbench.official_prompt(record)
        question, answer = _notebook_qa_template(raw)
        # VLMEvalKit's message: system SYS, the question, "\nOnly give the best option.", assistant "Best option:("
        assert prompt.system == MVBENCH_NB["system"]
        assert prompt.text == question + MVBENCH_NB["question_prompt"]
        assert prompt.prefill == MVBENCH_NB["answer_prompt"]
        if raw["answer"] in raw["candidates"]:  # one fixture answer carries a stray space; the letter still holds
            assert mvbench.official_reference(record)["answer"] == answer


def test_mvbench_prompt_from_the_video_r1_copy_equals_the_native_one(shared):
    unified = load_benchmark("mvbench", FIXTURES / "unified" / "evaluation" / "eval_mvbench.json").records
    raw = json.loads((FIXTURES / "unified" / "evaluation" / "eval_mvbench.json").read_text(encoding="utf-8"))
    for item, record in zip(raw, unified):
        data = {"question": item["question"], "candidates": [o[3:] for o in item["options"]], "answer": item["answer"]}
        assert mvbench.official_prompt(record).text == _notebook_qa_template(data)[0] + "\nOnly give the best option."


def _notebook_get_index(bound, fps, max_frame, first_idx, num_segments):
    """`MVBench_dataset.get_index` (mvbench.ipynb, cell 12), reimplemented with numpy as there."""
    if bound:
        start, end = bound[0], bound[1]
    else:
        start, end = -100000, 100000
    start_idx = max(first_idx, round(start * fps))
    end_idx = min(round(end * fps), max_frame)
    seg_size = float(end_idx - start_idx) / num_segments
    return np.array([int(start_idx + (seg_size / 2) + np.round(seg_size * idx)) for idx in range(num_segments)])


@given(
    total=st.integers(20, 5000),
    fps=st.sampled_from([3.0, 23.976, 25.0, 29.97, 30.0]),
    bound=st.one_of(st.none(), st.tuples(st.floats(0, 30), st.floats(0.5, 40)).filter(lambda b: b[1] > b[0] + 0.4)),
)
def test_mvbench_frames_are_the_notebooks_segment_middles(total, fps, bound):
    start, end = bound if bound else (None, None)
    n = MVBENCH_NB["num_frame"]
    video = _notebook_get_index(bound, fps, total - 1, 0, n)  # read_video: max_frame = len - 1, from 0
    assert mvbench.segment_indices(total, fps, start, end, False, n) == video.tolist()
    folder = _notebook_get_index(bound, 3, total, 1, n)  # read_frame: TVQA 00001.jpg …, 3 fps
    assert mvbench.segment_indices(total, 3, start, end, True, n) == (folder - 1).tolist()


def _notebook_check_ans(pred: str, gt: str) -> bool:
    """`check_ans` (mvbench.ipynb, cell 15)."""
    pred_list = pred.lower().split(" ")
    pred_option = pred_list[0]
    gt_list = gt.lower().split(" ")
    gt_option, gt_content = gt_list[0], " ".join(gt_list[1:])
    if gt_content[-1] == ".":
        gt_content = gt_content[:-1]
    return pred_option.replace(".", "") in gt_option or gt_option in pred_option


@given(
    reply=st.text(alphabet="ABCDabcd().: \nxyz", max_size=12),
    gold=st.sampled_from(["(A) a cat.", "(B) two", "(C) Put down the cup/glass/bottle.", "(D) it"]),
)
def test_mvbench_scorer_is_check_ans_on_the_prefilled_first_line(reply, gold):
    verdict = mvbench.official_score({"answer": gold}, reply)
    first = reply.strip().split("\n")[0]
    if first:
        assert verdict.correct == _notebook_check_ans(MVBENCH_NB["return_prompt"] + first, gold)
    else:  # the one deviation: the notebook counts an empty reply right ("(" is in every "(x)")
        assert _notebook_check_ans(MVBENCH_NB["return_prompt"], gold) and not verdict.correct


def test_mvbench_official_run_prefills_bounds_and_scores_like_the_notebook(tmp_path, shared):
    root = tmp_path / "videos"
    for name in ("ZS9XR.mp4", "EY6P4.mp4"):
        _link(root, f"star/Charades_v1_480/{name}")
    data = FIXTURES / "mvbench" / "json" / "action_sequence.json"
    backend = ScriptBackend({"action_sequence_0": "A) Ate the medicine.\nBecause…", "action_sequence_1": "B."})
    results = run_with(tmp_path, data, backend, bench="mvbench", protocol="official", video_root=str(root), frames=16)
    assert results["accuracy"] == 50.0 and results["n"] == 2  # item 1's gold is C
    line = read_samples(tmp_path / "run" / "samples.jsonl")["action_sequence_0"]
    video = backend.videos["action_sequence_0"]
    # the clip bounds 1.5–17.1 s of a 22.29 fps video, 16 segment middles
    expected = _notebook_get_index((1.5, 17.1), video.source_fps, 490, 0, 16).tolist()
    assert line["frame_indices"] == expected and line["parsed"] == "(A)"
    assert line["reference"] == {"answer": "(A) Ate the medicine."}
    prompt = backend.prompts["action_sequence_0"]
    assert prompt.prefill == "Best option:(" and prompt.system == MVBENCH_NB["system"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["temperature"], config["max_new_tokens"], config["parser"]) == (0.0, 100, "official")
    assert config["video_sampling"]["frame_rule"] == "mvbench"


# ----------------------------------------------------------------------------------------------------------
# Video-MME: the README's prompt (its two examples are vendored), subtitles of the sampled frames as lmms-eval
# selects them (tasks/videomme/utils.py, reimplemented below), and the authors' scorer
# (github.com/thanku-all/parse_answer eval_your_results.py, reimplemented below)


def test_videomme_prompt_is_the_readmes_example_character_for_character():
    record = Record(
        "x",
        "What is the color of the clothing worn by the persons in the video?",
        ["Black.", "Gray.", "Green.", "Brown."],
        ["B"],
        video="v.mp4",
        source="videomme",
        meta={"subtitles": [[0.0, 5.0, "Hi guys, I'm going to show you how to perfectly prepare a ..."]]},
    )
    assert videomme.official_prompt(record).text + "\n" == VIDEOMME_README["without_subtitles"]
    frames = SimpleNamespace(indices=(10, 60), source_fps=25.0)
    text = videomme.official_prompt(record, "official-subtitles", frames).text
    assert text + "\n" == VIDEOMME_README["with_subtitles"]


def test_videomme_prompt_for_the_real_rows_uses_their_own_option_strings(shared):
    rows = json.loads((FIXTURES / "videomme" / "videomme_rows.json").read_text(encoding="utf-8"))
    records = {r.id: r for r in load_benchmark("videomme", FIXTURES / "videomme").records}
    head = VIDEOMME_README["without_subtitles"].split("\n")[0]
    for row in rows:
        text = videomme.official_prompt(records[row["question_id"]]).text
        assert text == "\n".join([head, row["question"], *row["options"], "The best answer is:"])


def _lmms_eval_subtitles(srt: str, total_frame: int, fps: float, frame_num: int) -> str:
    """lmms-eval `videomme_doc_to_text_subtitle`: subtitles of `frame_num` uniform frames (its frame rule)."""

    def seconds(t):
        h, m, s_ms = t.split(":")
        s, ms = s_ms.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    subtitles = {}
    for section in srt.split("\n\n"):
        if section.strip():
            lines = section.split("\n")
            if len(lines) >= 3:
                start, end = lines[1].split(" --> ")
                subtitles[(seconds(start), seconds(end))] = " ".join(lines[2:])
    by_frame = [(int(s * fps), int(e * fps), text) for (s, e), text in subtitles.items()]
    frames = np.linspace(0, total_frame - 1, frame_num, dtype=int).tolist()
    picked = sorted({k for f in frames for k, t in enumerate(by_frame) if t[0] <= f < t[1]})
    texts = [re.findall(r'<font color="white" size=".72c">(.*?)</font>', by_frame[k][2]) for k in picked]
    return "\n".join(t[0] for t in texts if t)


@pytest.mark.parametrize("frames", [1, 2, 4, 16, 32])
def test_videomme_subtitles_are_those_of_the_sampled_frames_as_lmms_eval_picks_them(frames, shared):
    srt_path = FIXTURES / "videomme" / "subtitle" / "fFjv93ACGo8.srt"
    lines = videomme.parse_srt(srt_path.read_text(encoding="utf-8"))
    total, fps = 150, 25.0  # 6 s: the fixture's two subtitles cover 0–2.5 s and 2.5–5 s
    indices = videomme.linspace_int(total, frames)
    ours = videomme.frame_subtitles(lines, SimpleNamespace(indices=indices, source_fps=fps))
    assert ours == _lmms_eval_subtitles(srt_path.read_text(encoding="utf-8"), total, fps, frames)


def test_videomme_official_run_with_subtitles_shows_the_frames_subtitles(tmp_path, shared):
    root = tmp_path / "videos"
    _link(root, "data/fFjv93ACGo8.mp4", "video1.mp4")
    backend = ScriptBackend(lambda r: "The best answer is: C.")
    results = run_with(
        tmp_path, FIXTURES / "videomme", backend, bench="videomme", protocol="official", subtitles=True,
        video_root=str(root), limit=3, frames=16,
    )  # fmt: skip
    assert results["n"] == 3 and results["ci_method"] == "clustered"
    prompt = backend.prompts["001-1"]
    video = backend.videos["001-1"]  # 22 s at 22.29 fps: frames up to 5 s show the two subtitles
    assert video.indices == tuple(videomme.linspace_int(491, 16))
    assert prompt.text.startswith(
        "This video's subtitles are listed below:\nCONSTRUCTED placeholder subtitle line one\n"
        "CONSTRUCTED placeholder subtitle line two\nSelect the best answer"
    )
    lines = read_samples(tmp_path / "run" / "samples.jsonl")
    assert {line["cluster"] for line in lines.values()} == {"fFjv93ACGo8"}
    assert lines["001-1"]["parsed"] == "C" and lines["001-1"]["strict"] == 1.0  # gold C


def _authors_extract(s: str) -> str:
    """`extract_characters_regex` of eval_your_results.py, reimplemented (its missing commas included)."""
    s = s.strip()
    answer_prefixes = [
        "The best answer is",
        "The correct answer is",
        "The answer is",
        "The answer",
        "The best option is" + "The correct option is",
        "Best answer:" + "Best option:",
        "Answer:",
        "Option:",
        "The correct answer",
        "The correct option",
    ]
    for answer_prefix in answer_prefixes:
        s = s.replace(answer_prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return ""
    matches = re.search(r"[ABCD]", s)
    if matches is None:
        return ""
    return matches[0]


_words = st.sampled_from(
    ["The best answer is", "Answer:", "Best option:", "The correct option", "(B)", "C.", "D", "a", "dog", "\n", " "]
)


@given(reply=st.lists(_words, max_size=14).map(" ".join), gold=st.sampled_from("ABCD"))
def test_videomme_scorer_is_the_authors_extraction(reply, gold):
    verdict = videomme.official_score({"answer": gold}, reply)
    assert verdict.parsed == _authors_extract(reply) and verdict.correct == (_authors_extract(reply) == gold)


# ----------------------------------------------------------------------------------------------------------
# TempCompass: llyx97/TempCompass run_qwen2_vl.py (answer prompts), prompt_templates.py (judge prompts; both
# vendored) and eval_<task type>.py (rules), checked against a sample of its own released evaluation results


def _tempcompass_sets():
    native = load_benchmark("tempcompass", FIXTURES / "tempcompass" / "questions").records
    lmms = load_benchmark("tempcompass", FIXTURES / "tempcompass" / "lmms-lab").records
    unified = load_benchmark("tempcompass", FIXTURES / "unified" / "evaluation" / "eval_tempcompass.json").records
    return native, lmms, unified


def test_tempcompass_prompts_are_question_plus_answer_prompt_for_every_layout(shared):
    native, lmms, unified = _tempcompass_sets()
    raw = {}
    for path in (FIXTURES / "tempcompass" / "questions").glob("*.json"):
        for video, dims in json.loads(path.read_text(encoding="utf-8")).items():
            for dim, items in dims.items():
                raw.update({(path.stem, video, dim, i): item["question"] for i, item in enumerate(items)})
    assert {r.meta["task_type"] for r in native} == set(TEMPCOMPASS["answer_prompt"])
    for record in native:
        task, video, dim, n = record.meta["task_type"], record.meta["video_id"], record.meta["dim"], record.id
        question = raw[(task, video, dim, int(n.rsplit("_", 1)[1]))]
        assert tempcompass.official_prompt(record).text == question + TEMPCOMPASS["answer_prompt"][task]
    assert [tempcompass.official_prompt(r).text for r in lmms] == [tempcompass.official_prompt(r).text for r in native]
    from twgrpo_data.io.unified_format import record_to_unified, unified_to_record

    for record in native:  # written as unified JSON and read back, a record keeps what the protocol shows
        back = unified_to_record(record_to_unified(record), 0, "tempcompass")
        assert back == record and tempcompass.official_prompt(back) == tempcompass.official_prompt(record)
    written = json.loads((FIXTURES / "unified" / "evaluation" / "eval_tempcompass.json").read_text(encoding="utf-8"))
    for item, record in zip(written, unified):  # Video-R1's copy keeps the question as written
        task = tempcompass.official_task_type(record)
        assert tempcompass.official_prompt(record).text == item["question"] + TEMPCOMPASS["answer_prompt"][task]


def test_tempcompass_judge_prompts_are_its_prompt_templates():
    for task in ("multi-choice", "yes_no", "caption_matching"):
        assert tempcompass.verdict_prompt(task) == TEMPCOMPASS[f"{task.replace('-', '_')}_evaluation_prompt"]
    assert tempcompass.CAPTION_JUDGE_PROMPT == TEMPCOMPASS["caption_evaluation_prompt"]


SAMPLE = json.loads((OFFICIAL / "tempcompass_auto_eval_sample.json").read_text(encoding="utf-8"))["items"]


def test_tempcompass_rules_and_judge_readings_reproduce_its_released_ratings():
    checked = {"rules": 0, "rules fail": 0, "judge": 0, "caption": 0}
    for item in SAMPLE:
        task, pred, gold = item["task_type"], item.get("video-llm-prediction"), item["gt-answer"]
        if task == "captioning":
            reply = f"Reasoning: {item['chatgpt-reasoning']}\nAnswer: {item['chatgpt-answer']}"
            assert tempcompass.caption_rating(reply, gold)[1] == item["rating"]
            checked["caption"] += 1
            continue
        if task == "multi-choice":
            rule = tempcompass.multi_choice_rule(pred, gold)
        elif task == "yes_no":
            rule = tempcompass.yes_no_rule(pred, gold)
        else:
            rule = tempcompass.caption_matching_rule(pred, item["question"], gold)
        if item["match_success"]:
            assert rule == item["rating"], item
            checked["rules"] += 1
        else:
            assert rule is None, item
            checked["rules fail"] += 1
            if item.get("chatgpt-response"):
                assert tempcompass.judge_rating(item["chatgpt-response"]) == item["rating"]
                checked["judge"] += 1
    assert min(checked.values()) > 0, checked


def test_tempcompass_judge_reply_without_a_verdict_is_re_asked_then_fails():
    asked = []

    def ask(messages, params, attempt):
        asked.append(attempt)
        return "I cannot tell." if attempt < 3 else "Correct."

    ref = {"task_type": "yes_no", "question": "Is it red?", "answer": "yes"}
    assert tempcompass.official_score(ref, "It seems so", ask).correct and asked == [0, 1, 2, 3]
    verdict = tempcompass.official_score(ref, "It seems so", lambda m, p, a: "Maybe")
    assert verdict.error is not None and "11 replies unreadable" in verdict.error and not verdict.correct
    no_judge = tempcompass.official_score(ref, "It seems so", None)
    assert no_judge.error is not None and "--judge-model" in no_judge.error
    with pytest.raises(JudgeUnreadable):
        tempcompass.judge_rating("no verdict")


# ----------------------------------------------------------------------------------------------------------
# MMVU: yale-nlp/MMVU utils/constant.py (prompts) and utils/eval_utils.py (judge messages), reimplemented
# from https://github.com/yale-nlp/MMVU/blob/main/utils/constant.py and .../utils/eval_utils.py

MMVU_COT = {
    "multiple-choice": Template(
        "\nQuestion: $question\n$optionized_str\n\nAnswer the given multiple-choice question step by step. Begin by "
        "explaining your reasoning process clearly. Conclude by stating the final answer using the following format: "
        "'Therefore, the final answer is: $$LETTER' (without quotes), where $$LETTER is one of the options. Think "
        "step by\nstep before answering."
    ),
    "open-ended": Template(
        "\nQuestion: $question\n\nAnswer the given question step by step. Begin by explaining your reasoning process "
        "clearly. Conclude by stating the final answer using the following format: 'Therefore, the final answer is: "
        "'Answer: $$ANSWER' (without quotes), where $$ANSWER is the final answer of the question. Think step by step"
        "\nbefore answering."
    ),
}
MMVU_DO = {
    "multiple-choice": Template(
        "\nQuestion: $question\n$optionized_str\n\nDo not generate any intermediate reasoning process. Answer "
        "directly with the option letter from the given choices.\n"
    ),
    "open-ended": Template(
        "\nQuestion: $question\n\nDo not generate any intermediate reasoning process. Directly output the final "
        "short answer.\n"
    ),
}


def _mmvu_raw_and_records():
    path = FIXTURES / "mmvu" / "validation.json"
    raws = json.loads(path.read_text(encoding="utf-8"))
    records = load_benchmark("mmvu", path, open_ended=True).records
    return list(zip(raws, records))


def test_mmvu_prompts_are_its_constant_templates_for_both_question_types(shared):
    pairs = _mmvu_raw_and_records()
    assert {raw["question_type"] for raw, _ in pairs} == {"multiple-choice", "open-ended"}
    for raw, record in pairs:
        qtype = raw["question_type"]
        options = "\n".join(f"{k}: {v}" for k, v in raw["choices"].items())
        for style, templates in (("official-cot", MMVU_COT), ("official-direct", MMVU_DO)):
            expected = templates[qtype].substitute(question=raw["question"], optionized_str=options)
            assert mmvu.official_prompt(record, style).text == expected


def test_mmvu_judge_sees_question_truth_and_response_as_its_eval_utils_builds_them(shared):
    for raw, record in _mmvu_raw_and_records():
        messages = mmvu.judge_messages(mmvu.official_reference(record), "It is B.")
        if raw["question_type"] == "multiple-choice":
            options = "\n".join(f"{k}: {v}" for k, v in raw["choices"].items())
            context = f"Question: {raw['question']}\n\nOptions:\n{options}"
            assert '"extracted_answer": // str value "A" "B" "C" "D" "E"' in messages[0]["content"]
        else:
            context = f"Question: {raw['question']}"
            assert "exact same technique or concept" in messages[0]["content"]
        user = f"{context}\n\nGround Truth Answer: {raw['answer']}\n\nModel Response to the Question: It is B."
        assert messages[1] == {"role": "user", "content": user}
        assert messages[0]["content"].startswith("Evaluate whether the model's final answer is correct")


def test_mmvu_unreadable_verdicts_fail_their_item():
    ref = mmvu.official_reference(_mmvu_raw_and_records()[2][1])
    assert mmvu.official_score(ref, "B", lambda m, p, a: '{"extracted_answer": "B", "correct": true}').correct
    for reply in ("yes", '{"correct": "yes"}', "[]"):
        verdict = mmvu.official_score(ref, "B", lambda m, p, a, r=reply: r)
        assert verdict.error is not None and not verdict.correct


# ----------------------------------------------------------------------------------------------------------
# refusals


@pytest.mark.parametrize(
    "bench, option, value",
    [
        ("mvbench", "temperature", 0.7),
        ("mvbench", "max_new_tokens", 512),
        ("mvbench", "frames", 32),
        ("tempcompass", "max_pixels", 200704),
        ("mmvu", "top_p", 0.5),
    ],
)
def test_official_protocols_refuse_flags_that_change_them(tmp_path, bench, option, value):
    flag = "--" + option.replace("_", "-")
    kw = dict(frames=16, min_pixels=128 * 28 * 28, max_pixels=720 * 720 if bench == "tempcompass" else 196 * 28 * 28)
    with pytest.raises(TwgrpoError, match=f"--protocol official fixes .*: drop {flag} {value}"):
        run_with(
            tmp_path,
            tmp_path / "none.json",
            ScriptBackend({}),
            bench=bench,
            protocol="official",
            **{**kw, option: value},
        )
    assert not (tmp_path / "run").exists()


def test_official_protocol_refuses_a_parser_subtitles_elsewhere_and_benchmarks_without_one(tmp_path):
    data = FIXTURES / "mvbench" / "json" / "action_sequence.json"
    kw = dict(bench="mvbench", protocol="official", frames=16)
    with pytest.raises(TwgrpoError, match="--parser"):
        run_with(tmp_path, data, ScriptBackend({}), parser="lenient", **kw)
    with pytest.raises(TwgrpoError, match="--subtitles: only Video-MME"):
        run_with(tmp_path, data, ScriptBackend({}), subtitles=True, **kw)
    with pytest.raises(TwgrpoError, match="--judge-model: mvbench's official protocol scores without a judge"):
        run_with(tmp_path, data, ScriptBackend({}), judge_model="j", **kw)
    with pytest.raises(TwgrpoError, match="nextgqa has no official protocol"):
        run_with(tmp_path, data, ScriptBackend({}), bench="nextgqa", protocol="official")
    with pytest.raises(TwgrpoError, match="--subtitles: only for --protocol official"):
        run_with(tmp_path, data, ScriptBackend({}), bench="videomme", subtitles=True)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------------------------------------
# the answer prefill reaches every backend, and the command line reaches the run


def test_the_prefill_ends_the_chat_text_and_the_openai_request_continues_it():
    from eval_helpers import FakeOpenAIServer

    from twgrpo_eval.backends import PixelBudget, Request, SamplingSettings
    from twgrpo_eval.backends.base import chat_text
    from twgrpo_eval.backends.openai_backend import OpenAIBackend

    record = Record("q", "What moves?", ["the cube", "the ball"], ["B"], source="mvbench")
    prompt = mvbench.official_prompt(record)

    class Template:  # what a processor's chat template renders, in Qwen's layout
        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return turns + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    assert chat_text(Template(), prompt).endswith("<|im_start|>assistant\nBest option:(")
    server = FakeOpenAIServer()
    try:
        backend = OpenAIBackend("served-model", SamplingSettings(), PixelBudget(3136, 12544), api_base=server.url)
        body = backend.request_body(Request("q", prompt))
        backend.close()
    finally:
        server.close()
    assert body["messages"][-1] == {"role": "assistant", "content": "Best option:("}
    assert body["messages"][0] == {"role": "system", "content": MVBENCH_NB["system"]}
    assert body["extra_body"]["continue_final_message"] is True and body["extra_body"]["add_generation_prompt"] is False


def test_the_command_line_passes_protocol_subtitles_and_judge_to_the_run(tmp_path, monkeypatch):
    import twgrpo_eval.runner as runner

    seen = []

    def fake_run(config, **kw):
        seen.append(config)
        return runner.RunResult(tmp_path, {"run": {}}, 0, 0.0)

    monkeypatch.setattr(runner, "run_eval", fake_run)
    args = ["eval", "--bench", "videomme", "--model", "org/m", "--data", "x", "--protocol", "official", "--subtitles"]
    args += ["--judge-model", "gpt-4o", "--judge-api-base", "http://127.0.0.1:1/v1", "--judge-api-key", "sk-x-1234"]
    result = run_cli(*args)
    assert result.code == 0, result.stderr
    (config,) = seen
    assert (config.protocol, config.subtitles, config.judge_model) == ("official", True, "gpt-4o")
    assert config.judge_api_base == "http://127.0.0.1:1/v1" and config.judge_options == {"api_key": "sk-x-1234"}
    assert "sk-x-1234" not in result.stdout + result.stderr
