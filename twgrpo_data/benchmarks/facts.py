"""The facts a benchmark module states about itself, as small frozen types.

Every benchmark module (`twgrpo_data/benchmarks/<name>.py`) holds, besides its loader:

    SOURCE        `Source`: licence (with gated / redistribution / commercial flags), homepage, where the
                  videos come from, citation — what a dataset card states and what `twgrpo publish` checks
    HUB           `HubSource` or None: the Hugging Face repository, which files are annotations, which are
                  videos and how they are packed — what `twgrpo data fetch` downloads
    PROMPT_STYLE  the evaluation prompt style `auto` picks for it ("cot" or "clevrer")
    READS_INTERCHANGE  True when its `load` reads unified JSON lists itself (its own JSON variants; records files,
                  parquet and HF folders still go to the interchange reader)
    SIGNATURE     native fields whose presence in a record's `meta` marks the record as this benchmark's
                  (Video-MME's `videoID`/`url`/`duration`/`domain`, …); used to decide a record's licence
                  by content, not by file name
    OFFICIAL      `OfficialProtocol` (where the benchmark has one): its own prompts, frames, decoding and
                  scorer, for `twgrpo eval --protocol official`

The registry (`twgrpo_data.benchmarks.BENCHMARKS`) derives every list from these: the card source table,
the licence gate, `guess_from_name`, the QAI input formats and the prompt style.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: `redistribution` values; the last two are refused by `twgrpo publish` without `--i-have-permission`.
REDISTRIBUTION = ("allowed", "unknown", "non-commercial", "forbidden")


@dataclass(frozen=True)
class Source:
    """What a dataset card and the licence gate need to know about one source benchmark.

    `license` is a Hugging Face licence id; with "other", `license_name` and `license_link` say which
    (the Hub asks for both). `redistribution`: "allowed", "non-commercial" or "forbidden" (both refused
    without permission), "unknown" (a warning). `gated`: the Hub repository asks users to accept terms.
    """

    name: str
    license: str
    license_note: str
    redistribution: str
    homepage: str
    hub_id: str | None
    videos: str
    citation: str
    license_name: str | None = None
    license_link: str | None = None
    gated: bool = False

    def __post_init__(self) -> None:
        if self.redistribution not in REDISTRIBUTION:
            raise ValueError(f"{self.name}: redistribution {self.redistribution!r} not in {REDISTRIBUTION}")
        if self.license == "other" and not (self.license_name and self.license_link):
            raise ValueError(f"{self.name}: license 'other' needs license_name and license_link")


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the Hugging Face Hub and how its files are laid out.

    `annotations` are `allow_patterns` for the annotation files; `data_path` is what the module's `load`
    reads, relative to the downloaded snapshot (a file or folder). Videos are either plain files
    (`video_files`, a pattern; a record's `video` is its path in the repository) or zip archives
    (`video_archives`, patterns; unpacked once into the cache, a record's `video` is its path inside the
    unpacked tree). `archive_of(video)` names the archive holding a record's video when the layout says so
    (MVBench: one zip per source folder); None means "any of them" (Video-MME's numbered chunks are tried in
    order until every wanted video is there).
    """

    repo_id: str
    annotations: tuple[str, ...]
    data_path: str
    revision: str = "main"
    video_files: str | None = None
    video_archives: tuple[str, ...] = ()
    archive_of: Callable[[str], str | None] | None = field(default=None, compare=False)
    gated: bool = False

    @property
    def has_videos(self) -> bool:
        return self.video_files is not None or bool(self.video_archives)


#: An LLM judge as an official scorer calls it: `ask(messages, params, attempt) -> the judge's reply text`.
#: `params` are the chat-completion settings the benchmark's own scorer used (temperature, max_tokens,
#: response_format…); `attempt` counts re-asks of the same question after an unreadable reply.
Ask = Callable[[list[dict[str, str]], dict[str, Any], int], str]


class JudgeUnreadable(Exception):
    """The judge's reply is not in the form the benchmark's scorer reads (its item fails, counted wrong)."""


@dataclass(frozen=True)
class Verdict:
    """How a benchmark's official scorer judged one answer: what it read and whether that is right. `error`
    is set when it could not judge (the rules failed and no judge was given, or the judge's reply was
    unreadable): the item counts as wrong and as failed, never silently."""

    parsed: str
    correct: bool
    error: str | None = None


@dataclass(frozen=True)
class OfficialProtocol:
    """A benchmark's own evaluation protocol — its authors' code (lmms-eval's task where theirs is silent) —
    so that a twgrpo number can stand next to the benchmark's leaderboard (`--protocol official`).

    `prompt(record, style, video)` builds what the model is asked (`video` is the sampled clip, for
    protocols whose text depends on the frames shown, e.g. Video-MME's subtitles; None before sampling or
    when it failed); `reference(record)` is what `score(reference, output, ask)` needs, kept in every sample
    line so `twgrpo eval rescore` re-scores without the data file; `ask` is the run's LLM judge (None: none).
    `sampling` are the frame settings it fixes (`frame_rule` its own frame choice, `frames_text` both in
    words); `frames_free` leaves
    `--frames` to the user (Video-MME: the model's choice); `pixels` the pixel budget it fixes (None: the
    model's setting, as in lmms-eval). `judge` is "none", "on-failure" (rules first, the judge where they
    cannot read the answer; always for the kinds in `judge_always_for`) or "always". `styles` are the prompt
    variants (the first is the default); `kind(record)` a second breakdown of the results (question or task
    type).
    """

    name: str
    code: str
    reproduces: str
    differs: str
    templates: dict[str, Any]
    prompt: Callable[..., Any]
    reference: Callable[..., dict[str, Any]]
    score: Callable[[dict[str, Any], str, Ask | None], Verdict]
    temperature: float
    top_p: float
    max_new_tokens: int
    sampling: dict[str, Any] = field(default_factory=dict)
    frames_text: str = ""
    frame_rule: Callable[..., Any] | None = field(default=None, compare=False)
    frames_free: bool = False
    pixels: tuple[int, int] | None = None
    judge: str = "none"
    judge_always_for: tuple[str, ...] = ()
    judge_settings: dict[str, Any] = field(default_factory=dict)
    load_options: dict[str, Any] = field(default_factory=dict)
    styles: tuple[str, ...] = ("official",)
    kind: Callable[..., str | None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.judge not in ("none", "on-failure", "always"):
            raise ValueError(f"{self.name}: judge {self.judge!r} not in none/on-failure/always")
