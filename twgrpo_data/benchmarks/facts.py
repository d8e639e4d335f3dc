"""The facts a benchmark module states about itself, as small frozen types.

Every benchmark module (`twgrpo_data/benchmarks/<name>.py`) holds, besides its loader:

    SOURCE        `Source`: licence (with gated / redistribution / commercial flags), homepage, where the
                  videos come from, citation — what a dataset card states and what `twgrpo publish` checks
    HUB           `HubSource` or None: the Hugging Face repository, which files are annotations, which are
                  videos and how they are packed — what `twgrpo data fetch` downloads
    PROMPT_STYLE  the evaluation prompt style `auto` picks for it ("cot" or "clevrer")
    READS_INTERCHANGE  True when its `load` reads unified/records files itself (its own JSON variants)
    SIGNATURE     native fields whose presence in a record's `meta` marks the record as this benchmark's
                  (Video-MME's `videoID`/`url`/`duration`/`domain`, …); used to decide a record's licence
                  by content, not by file name

The registry (`twgrpo_data.benchmarks.BENCHMARKS`) derives every list from these: the card source table,
the licence gate, `guess_source`, the QAI input formats and the prompt style.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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

    @property
    def commercial_use(self) -> bool:
        """False when the terms exclude commercial use (non-commercial or no redistribution at all)."""
        return self.redistribution in ("allowed", "unknown")


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
