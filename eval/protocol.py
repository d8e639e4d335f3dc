"""Evaluation protocols: what a run feeds the model and how it scores the answers, chosen with `--protocol`.

standard          (default) TW-GRPO's prompts, decoding and pixel budget, with frames done right:
                  `--frames` (16) distinct uniform frames, and the model told their real sampling rate.
twgrpo-official   an exact replica of what TW-GRPO's released evaluation scripts really fed the model,
                  accidents included (research: eval_anchors §1.4):
                  - their environment variables were set after qwen-vl-utils was imported, so they never
                    took effect: frames follow the vendored 2 fps rule (at least 4, at most 16, even
                    counts, `linspace(0, total-1, n).round()`), then — `SAMPLE_MODE` stayed "false" — are
                    re-indexed to 16 with `linspace(0, n-1, 16).long()` (truncation: frames repeat;
                    10 distinct frames on CLEVRER's 5.12 s clips);
                  - no frame rate was told to the model, so Qwen2.5-VL assumed 2.0 (we tell it 2.0,
                    which gives the same temporal positions);
                  - every video is sampled whole: the scripts passed only the path, never MVBench's
                    `start`/`end` bounds (1,000 of its 4,000 items carry them, 732 with start > 0);
                  - prompts use the data file's own `problem` and option strings verbatim (e.g. "A text"
                    lines inside CLEVRER's `problem`), not options rebuilt as "A. text" — so the replica
                    needs the released unified file, and refuses a file whose records have no `problem`.
                  Both protocols use 153,664 px per frame at most, temperature 0.1, top_p 0.001,
                  4,096 new tokens and honour the checkpoint's `generation_config` (repetition penalty,
                  top_k) in every backend; the replica refuses a flag that would change any of them.
official          the benchmark's own protocol (`OfficialProtocol` in its module: MVBench, Video-MME with
                  or without `--subtitles`, TempCompass, MMVU): its prompts, frame rule, decoding and
                  scorer — with an LLM judge where it has one (`--judge-model`) — so a number stands next
                  to its leaderboard. It refuses flags that would change what it fixes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twgrpo_data.benchmarks import resolve_style
from twgrpo_data.benchmarks.facts import Ask, OfficialProtocol, Verdict
from twgrpo_data.errors import TwgrpoError, UsageError
from twgrpo_data.metrics import ItemScore, score_output
from twgrpo_data.prompts import (
    Prompt,
    SourceText,
    build_prompt,
    default_parser,
    short_hash,
    template_of,
)
from twgrpo_data.record import Record, is_open_ended
from twgrpo_data.scoring import format_reward

PROTOCOLS = ("standard", "twgrpo-official", "official")
STANDARD, OFFICIAL, BENCHMARK_OFFICIAL = PROTOCOLS  # OFFICIAL: the TW-GRPO replica
# The vendored qwen-vl-utils' constants as they were at import time (environment unset).
OFFICIAL_SAMPLING = {"fps": 2.0, "min_frames": 4, "max_frames": 16, "resample_to": 16}
OFFICIAL_MODEL_FPS = 2.0  # what Qwen2.5-VL assumes when no fps is passed (second_per_grid_ts = 1.0)
#: The `parser` a run under `--protocol official` records: its benchmark's own scorer.
OFFICIAL_PARSER = "official"
#: How many judge questions are in flight at once (per batch).
JUDGE_CONCURRENCY = 8

# The flag that sets each run setting a protocol may fix, and how the refusal names what is fixed.
FLAGS = {
    "frames": ("--frames", "the frames"),
    "sample_fps": ("--sample-fps", "the frames"),
    "model_fps": ("--model-fps", "the fps told to the model"),
    "min_pixels": ("--min-pixels", "the pixel budget"),
    "max_pixels": ("--max-pixels", "the pixel budget"),
    "temperature": ("--temperature", "the decoding"),
    "top_p": ("--top-p", "the decoding"),
    "max_new_tokens": ("--max-new-tokens", "the decoding"),
}


def _defaults(config: Any) -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}


def replica_settings(config: Any) -> dict[str, Any]:
    """What `twgrpo-official` fixes: TW-GRPO's defaults (which are the run defaults) and its frame rule."""
    defaults = _defaults(config)
    keys = ("min_pixels", "max_pixels", "temperature", "top_p", "max_new_tokens", "frames")
    return {"sample_fps": None, "model_fps": None, **{k: defaults[k] for k in keys}}


def official_settings(protocol: OfficialProtocol, config: Any) -> dict[str, Any]:
    """What a benchmark's official protocol fixes: its decoding, its frames (unless the model chooses them,
    as for Video-MME), its pixel budget where it has one."""
    fixed: dict[str, Any] = {
        "sample_fps": None,
        "model_fps": None,
        "temperature": protocol.temperature,
        "top_p": protocol.top_p,
        "max_new_tokens": protocol.max_new_tokens,
    }
    if not protocol.frames_free:
        fixed["frames"] = protocol.sampling.get("frames") or _defaults(config)["frames"]
    if protocol.pixels is not None:
        fixed["min_pixels"], fixed["max_pixels"] = protocol.pixels
    return fixed


def apply_protocol(config: Any) -> Any:
    """`config` with the settings its protocol fixes filled in. A setting the user changed from its default to
    something else is refused, naming the flag (a replica or a leaderboard number it would no longer be)."""
    if config.protocol == STANDARD:
        return config
    if config.protocol == OFFICIAL:
        fixed, detail = replica_settings(config), {"frames": "2 fps, re-indexed to 16", "model_fps": "2.0"}
    else:
        protocol = benchmark_protocol(config.bench)
        _check_official_options(protocol, config)
        fixed, detail = official_settings(protocol, config), {"frames": protocol.frames_text}
    defaults = _defaults(config)
    for name in sorted(fixed, key=list(FLAGS).index):
        value, given = fixed[name], getattr(config, name)
        if given != value and given != defaults[name]:
            flag, what = FLAGS[name]
            shown = detail.get(name) or f"{flag} {value}"
            raise UsageError(f"--protocol {config.protocol} fixes {what} ({shown}): drop {flag} {given}")
    return dataclasses.replace(config, **fixed)


def _check_official_options(protocol: OfficialProtocol, config: Any) -> None:
    """Refuse, before any data is read, the options a benchmark's official protocol has no use for."""
    if config.parser is not None:
        raise UsageError(
            f"--parser: --protocol official scores with {config.bench}'s own rules; drop --parser "
            "(`twgrpo eval rescore --parser` cannot re-read such a run either)"
        )
    if config.judge_model is not None and protocol.judge == "none":
        raise UsageError(f"--judge-model: {config.bench}'s official protocol scores without a judge; drop it")
    if config.subtitles and "official-subtitles" not in protocol.styles:
        raise UsageError(f"--subtitles: only Video-MME's official protocol shows subtitles, not {config.bench}'s")
    official_style(protocol, config.prompt, config.subtitles)


def benchmark_protocol(bench: str) -> OfficialProtocol:
    from twgrpo_data.benchmarks import official_protocol

    return official_protocol(bench)


def load_options(config: Any) -> dict[str, Any]:
    """Options for the benchmark loader the protocol needs (MMVU's open-ended items, Video-MME's subtitles)."""
    if config.protocol != BENCHMARK_OFFICIAL:
        return {}
    options = dict(benchmark_protocol(config.bench).load_options)
    if config.subtitles:
        options["subtitles"] = True
    return options


def source_texts(path: str | Path) -> dict[str, SourceText]:
    """`id → SourceText` (the file's own `problem` and option strings) of a unified JSON/JSONL data file.

    Records without a `problem` are left out (their prompt is rendered from the record); a native benchmark
    file that is not unified JSON gives `{}`. Ids follow the unified reader: `id`, else `problem_id`, else
    the position in the file.
    """
    p = Path(path)
    if p.suffix not in (".json", ".jsonl") or not p.is_file():
        return {}
    text = p.read_text(encoding="utf-8")
    try:
        rows: Any = json.loads(text)
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not isinstance(rows, list):
        return {}
    out = {}
    for index, raw in enumerate(rows):
        if not isinstance(raw, dict) or not isinstance(raw.get("problem"), str):
            continue
        options = raw.get("options") if isinstance(raw.get("options"), list) else []
        rid = str(raw.get("id", raw.get("problem_id", index)))
        out[rid] = SourceText(raw["problem"], tuple(str(o) for o in options))
    return out


# ----------------------------------------------------------------------------------------------------------
# the plan: one run's prompts, clips, frames and scorer


@dataclass
class Plan:
    """What one run does under its protocol: the prompt style and template it records, how a record becomes
    a prompt, how its video is cut and sampled, and how an answer is scored."""

    protocol: str
    style: str
    parser: str
    template: dict[str, Any]
    build: Callable[[Record, Any], Prompt]
    official: OfficialProtocol | None = None
    sources: dict[str, SourceText] = field(default_factory=dict)

    @property
    def template_hash(self) -> str:
        return short_hash(self.template)

    @property
    def video_dependent(self) -> bool:
        """Whether the prompt depends on the frames shown (Video-MME's subtitles)."""
        return self.style == "official-subtitles"

    @property
    def uses_bounds(self) -> bool:
        """Whether a record's `start`/`end` bounds cut its clip (the released TW-GRPO scripts ignored them)."""
        return self.protocol != OFFICIAL

    def needs_judge(self, record: Record) -> bool:
        p = self.official
        if p is None or p.judge == "none":
            return False
        return p.judge == "always" or (p.kind is not None and p.kind(record) in p.judge_always_for)


def make_plan(config: Any, records: Sequence[Record], data_path: str) -> Plan:
    """The run's plan, from its (protocol-applied) config and the whole data file's records. Refuses what the
    protocol cannot do: open-ended items outside an official protocol, a replica without the data file's own
    `problem` texts, a parser or prompt style the protocol does not have."""
    if config.protocol == BENCHMARK_OFFICIAL:
        return _official_plan(config, records)
    open_ended = next((r for r in records if is_open_ended(r)), None)
    if open_ended is not None:
        raise TwgrpoError(
            f"record {open_ended.id!r} is open-ended: only --protocol official (with an LLM judge) scores such items"
        )
    style = resolve_style(config.prompt, config.bench, records)
    parser = config.parser or default_parser(style)
    sources: dict[str, SourceText] = {}
    if config.protocol == OFFICIAL:
        if parser != default_parser(style):
            raise UsageError(
                f"--protocol twgrpo-official scores {style} prompts with the {default_parser(style)} parser, as the "
                f"released scripts did: drop --parser {parser} (`twgrpo eval rescore --parser` re-reads a run)"
            )
        sources = source_texts(data_path)
        missing = [r.id for r in records if r.id not in sources]
        if missing:
            raise UsageError(
                f"--protocol twgrpo-official feeds the data file's own `problem` strings, but {len(missing)} of "
                f"{len(records)} records of {data_path} have none (e.g. {missing[0]!r}: a native benchmark or "
                "records file); pass the released unified file (e.g. data/evaluation/eval_mmvu.json) or use "
                "--protocol standard"
            )

    def build(record: Record, video: Any = None) -> Prompt:
        return build_prompt(record, style, sources.get(record.id))

    return Plan(config.protocol, style, parser, template_of(style), build, None, sources)


def _official_plan(config: Any, records: Sequence[Record]) -> Plan:
    protocol = benchmark_protocol(config.bench)
    style = official_style(protocol, config.prompt, config.subtitles)
    template = {"benchmark": protocol.name, "style": style, "code": protocol.code, **protocol.templates}
    plan = Plan(BENCHMARK_OFFICIAL, style, OFFICIAL_PARSER, template, lambda r, v=None: protocol.prompt(r, style, v))
    plan.official = protocol
    judged = [r for r in records if plan.needs_judge(r)]
    if judged and config.judge_model is None:
        raise UsageError(
            f"--judge-model: {config.bench}'s official scoring asks an LLM judge ({len(judged)} of {len(records)} "
            f"items, e.g. {judged[0].id!r}); pass --judge-model NAME and --judge-api-base URL (any "
            "OpenAI-compatible server)"
        )
    return plan


def official_style(protocol: OfficialProtocol, requested: str, subtitles: bool) -> str:
    """The official prompt variant: Video-MME's "official-subtitles" with `--subtitles`, MMVU's direct-answer
    prompt for `--prompt zeroshot`, else the protocol's default."""
    if subtitles:
        return "official-subtitles"
    wanted = {"auto": protocol.styles[0], "cot": "official-cot", "zeroshot": "official-direct"}.get(requested)
    if wanted not in protocol.styles:
        choices = "auto" + "".join(
            f", {k}" for k, v in (("cot", "official-cot"), ("zeroshot", "official-direct")) if v in protocol.styles
        )
        raise UsageError(f"--prompt {requested}: {protocol.name}'s official protocol takes --prompt {choices}")
    return wanted


# ----------------------------------------------------------------------------------------------------------
# scoring


def score_item(
    scoring: Plan | OfficialProtocol | None,
    item_id: str,
    output: str | None,
    gold: Sequence[str],
    *,
    parser: str,
    options: Sequence[str] | None,
    category: str | None,
    error: str | None,
    reference: dict[str, Any] | None = None,
    ask: Ask | None = None,
    kind: str | None = None,
    cluster: str | None = None,
) -> tuple[ItemScore, list[dict[str, Any]]]:
    """One item's score and the judgements it rests on: with a `parser` (standard, replica; `scoring` is their
    plan or None) or with the benchmark's official scorer (`scoring` is its plan or the `OfficialProtocol`) on
    `reference`, asking the judge through `ask` where it has to. A judge that fails fails the item."""
    official = scoring.official if isinstance(scoring, Plan) else scoring
    if official is None:
        item = score_output(
            item_id, output, gold, parser=parser, options=options, category=category, error=error, cluster=cluster
        )
        return item, []
    letters = sorted(gold)
    if error is not None or output is None:
        return ItemScore(item_id, "", letters, 0.0, 0.0, 0.0, category, error or "no output", 0, kind, cluster), []
    from .judge import JudgeError, Recorder

    recorder = Recorder(ask) if ask is not None else None
    try:
        verdict = official.score(reference or {}, output, recorder)
    except JudgeError as exc:
        verdict = Verdict("", False, f"judge: {exc}")
    right = float(verdict.correct)
    fmt = format_reward(output.strip(), "eval")
    item = ItemScore(
        item_id, verdict.parsed, letters, right, right, fmt, category, verdict.error, len(output), kind, cluster
    )
    return item, recorder.judgements if recorder is not None else []


__all__ = [
    "BENCHMARK_OFFICIAL",
    "OFFICIAL",
    "OFFICIAL_MODEL_FPS",
    "OFFICIAL_PARSER",
    "OFFICIAL_SAMPLING",
    "PROTOCOLS",
    "Plan",
    "apply_protocol",
    "load_options",
    "make_plan",
    "score_item",
    "source_texts",
]
