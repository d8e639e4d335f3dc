"""Dataset cards for published datasets: statistics from the records, facts about the source benchmarks,
and Jinja templates (`data_cards/*.md`) rendered into a Hugging Face `DatasetCard`.

A template is Markdown with a YAML metadata block (static facts such as `pretty_name`, `language`,
`task_categories`, `tags`) followed by a Jinja body. Every number in a rendered card comes from the
records (and, for what the records cannot tell, from the `twgrpo qai convert --report` JSON); licences,
`size_categories`, `source_datasets` and the Hub's `dataset_info`/`configs` are added to the metadata here.

Variables a template body can use (see `data_cards/_layout.md` for a complete card):
    repo_id, pretty_name, stats (`DatasetStats`), report (`QaiReport` or None), sources (list of
    `SourceUse`), example (one record as JSON text), toolkit_version, twgrpo_citation; filter `pct`.

Example:
    >>> from twgrpo_data.record import Record
    >>> recs = [Record(id="1", question="why did he run", options=["a", "b"], answer=["B"], source="nextgqa")]
    >>> card = render_card({"train": recs}, repo_id="me/nextgqa-small")
    >>> card.data.license
    'mit'
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..benchmarks import benchmark_of
from ..benchmarks import source_table as registry_sources
from ..benchmarks.facts import Source
from ..errors import InputFormatError, TwgrpoError
from ..io.arrow import has_categories, record_to_row
from ..io.json_text import parse_json, read_text
from ..io.meta_column import meta_struct_feature
from ..qai.report import QaiReport
from ..qai.report_html import check_report as check_report_fields
from ..record import Record

if TYPE_CHECKING:
    from huggingface_hub import DatasetCard

# `data_cards/` ships as the package `twgrpo_data.data_cards` (see pyproject), so wheels carry it too.
CARDS_DIR = Path(str(importlib.resources.files("twgrpo_data.data_cards")))
GENERIC = "generic"

TWGRPO_CITATION = """\
@article{dang2025reinforcing,
  title   = {Reinforcing Video Reasoning with Focused Thinking},
  author  = {Dang, Jisheng and Wu, Jingze and Wang, Teng and Lin, Xuanhui and Zhu, Nannan and Chen, Hongbo
             and Zheng, Wei-Shi and Wang, Meng and Chua, Tat-Seng},
  journal = {arXiv preprint arXiv:2505.24718},
  year    = {2025}
}"""


#: What a card states about one source benchmark; each benchmark module holds its own (`SOURCE`).
SourceInfo = Source
#: The paper's arXiv id: a `tags` entry `arxiv:<id>` links the dataset to the paper's page on the Hub.
TWGRPO_ARXIV = "2505.24718"


def source_table() -> dict[str, SourceInfo]:
    """Record `source` value → `SourceInfo`, from the benchmark registry."""
    return registry_sources()


UNKNOWN_SOURCE = SourceInfo(
    name="unknown source",
    license="unknown",
    license_note="no licence recorded for this source",
    redistribution="unknown",
    homepage="",
    hub_id=None,
    videos="the source dataset's own release.",
    citation="",
)


def source_info(source: str) -> SourceInfo:
    """Facts about `source` (a record's `source` field); an unknown name gets `UNKNOWN_SOURCE` under its name."""
    table = source_table()
    if source in table:
        return table[source]
    return dataclasses.replace(UNKNOWN_SOURCE, name=source) if source else UNKNOWN_SOURCE


def stated_source(name: str, license_id: str) -> SourceInfo:
    """A source the registry does not know, under the licence the publisher states (`--license`)."""
    return dataclasses.replace(
        UNKNOWN_SOURCE,
        name=name or "unknown source",
        license=license_id,
        license_note=f"{license_id}, as stated by the publisher",
        redistribution="allowed",
    )


def record_source(record: Record) -> str:
    """The benchmark a record comes from, decided by its content (`benchmarks.benchmark_of`), else its
    `source` as written."""
    return benchmark_of(record) or record.source or ""


# ----------------------------------------------------------------------------------------------------------
# statistics


@dataclass(frozen=True)
class DatasetStats:
    """Counts computed from the records of every split (never from a report).

    `qai_origin` says how negated records are marked: "twgrpo" (records carry `qai`), "is_negated"
    (TW-GRPO's own mixed files, flag kept in `meta`) or None (no inversion in this data).
    """

    n_records: int
    splits: dict[str, int]
    sources: dict[str, int]
    n_videos: int
    n_negated: int
    n_multi: int
    qai_origin: str | None
    answer_counts: dict[int, int]
    option_counts: dict[int, int]
    seeds: list[int]
    video_examples: list[str]

    @property
    def negated_share(self) -> float:
        return self.n_negated / self.n_records if self.n_records else 0.0

    @property
    def multi_share(self) -> float:
        return self.n_multi / self.n_records if self.n_records else 0.0

    @classmethod
    def from_splits(cls, splits: Mapping[str, Sequence[Record]]) -> DatasetStats:
        records = [r for recs in splits.values() for r in recs]
        # `record_source` depends only on a record's `source` and `meta` keys: judge each such pair once
        judged: dict[tuple[str, tuple[str, ...]], str] = {}
        for r in records:
            key = (r.source, tuple(r.meta))
            if key not in judged:
                judged[key] = record_source(r)
        flagged = sum(1 for r in records if r.qai is None and r.meta.get("is_negated") is True)
        with_qai = [r for r in records if r.qai is not None]
        negated = sum(1 for r in with_qai if r.qai.get("negated")) + flagged
        origin = "twgrpo" if with_qai else ("is_negated" if flagged else None)
        videos = [r.video for r in records if r.video]
        return cls(
            n_records=len(records),
            splits={name: len(recs) for name, recs in splits.items()},
            sources=dict(Counter([judged[r.source, tuple(r.meta)] for r in records]).most_common()),
            n_videos=len(set(videos)),
            n_negated=negated,
            n_multi=sum(1 for r in records if r.is_multi_answer),
            qai_origin=origin,
            answer_counts=dict(sorted(Counter([len(r.answer) for r in records]).items())),
            option_counts=dict(sorted(Counter([len(r.options) for r in records]).items())),
            seeds=sorted({r.qai["seed"] for r in with_qai if r.qai.get("seed") is not None}),
            video_examples=list(dict.fromkeys(videos))[:2],
        )


def load_report(path: str | Path) -> QaiReport:
    """Read a QAI report (`twgrpo_data.qai.report.QaiReport.load`) whose fields have the types `qai convert` writes
    (`twgrpo_data.qai.report_html.check_report`); the input path is reduced to its file name, since cards carry no local
    paths."""
    try:
        doc = parse_json(read_text(path), Path(path))
    except (ValueError, TwgrpoError):  # not JSON, not there: `QaiReport.load` names the problem
        doc = None
    if isinstance(doc, dict):
        check_report_fields(doc, path)
    report = QaiReport.load(path)
    return dataclasses.replace(report, input=Path(report.input).name if report.input else None)


def check_report(stats: DatasetStats, report: QaiReport) -> None:
    """Refuse a report that describes other data than `stats` (the card would state wrong numbers)."""
    problems = []
    if report.n_records != stats.n_records:
        problems.append(f"it counts {report.n_records} records, the data has {stats.n_records}")
    if "negated" in report.counts and report.counts["negated"] != stats.n_negated:
        problems.append(f"it counts {report.counts['negated']} negated, the data has {stats.n_negated}")
    if report.seed is not None and stats.seeds and stats.seeds != [report.seed]:
        problems.append(f"its seed is {report.seed}, the records carry seed(s) {stats.seeds}")
    if problems:
        raise TwgrpoError(f"{report.file}: the report does not describe this dataset: " + "; ".join(problems))


# ----------------------------------------------------------------------------------------------------------
# metadata


def size_category(n: int) -> str:
    """HF `size_categories` bucket of `n` examples: 999 → 'n<1K', 3358 → '1K<n<10K', 10**12 → 'n>1T'."""

    def short(x: int) -> str:
        for unit, exp in (("T", 12), ("B", 9), ("M", 6), ("K", 3)):
            if x >= 10**exp:
                return f"{x // 10**exp}{unit}"
        return str(x)

    if n < 10**3:
        return "n<1K"
    if n >= 10**12:
        return "n>1T"
    low = 10 ** (len(str(n)) - 1)
    return f"{short(low)}<n<{short(low * 10)}"


@dataclass(frozen=True)
class SourceUse:
    """One source of the data, with how many records come from it."""

    key: str
    info: SourceInfo
    n: int


def source_uses(stats: DatasetStats, stated_license: str | None = None) -> list[SourceUse]:
    """Each source of the data with its facts; sources the registry does not know get `stated_license`
    (`--license`) when given."""
    table = source_table()
    return [
        SourceUse(
            key, stated_source(key, stated_license) if key not in table and stated_license else source_info(key), n
        )
        for key, n in stats.sources.items()
    ]


def licence_metadata(uses: Sequence[SourceUse]) -> dict[str, Any]:
    """`license` (one id, or a list when sources differ), `license_name`/`license_link` when it is "other"
    (the Hub asks for both), and `source_datasets`: the Hub ids of the sources that have one."""
    licences = list(dict.fromkeys(u.info.license for u in uses)) or ["unknown"]
    out: dict[str, Any] = {"license": licences[0] if len(licences) == 1 else licences}
    other = [u.info for u in uses if u.info.license == "other"]
    if other:
        out["license_name"] = other[0].license_name
        out["license_link"] = other[0].license_link
    hub_ids = list(dict.fromkeys(u.info.hub_id for u in uses if u.info.hub_id))
    if hub_ids:
        out["source_datasets"] = hub_ids
    return out


def restricted_sources(uses: Sequence[SourceUse]) -> list[SourceUse]:
    """Sources whose terms forbid publishing a derived copy without permission."""
    return [u for u in uses if u.info.redistribution in ("forbidden", "non-commercial")]


# ----------------------------------------------------------------------------------------------------------
# templates and rendering


def available_templates() -> list[str]:
    """Names of the shipped card templates (`data_cards/<name>.md`)."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.md") if not p.name.startswith("_"))


def template_path(template: str | Path) -> Path:
    """A template name (`nextgqa-qai`) or a path to a template/card file → its path."""
    p = Path(template)
    if p.is_file():
        return p
    if not CARDS_DIR.is_dir():
        raise TwgrpoError(f"card templates not found at {CARDS_DIR} (install twgrpo from its source tree)")
    shipped = CARDS_DIR / f"{template}.md"
    if shipped.is_file():
        return shipped
    raise TwgrpoError(f"{template}: no such card file or template; templates: {', '.join(available_templates())}")


def choose_template(stats: DatasetStats) -> str:
    """The shipped template that fits the data: a QAI NExT-GQA/STAR card, the CLEVRER card, or the generic one."""
    sources = set(stats.sources)
    if sources == {"clevrer"}:
        return "clevrer-counterfactual"
    if stats.qai_origin and sources in ({"nextgqa"}, {"star"}):
        return f"{next(iter(sources))}-qai"
    return GENERIC


def _example(splits: Mapping[str, Sequence[Record]], meta_struct: bool) -> str:
    """One Hub row (a negated record when there is one) as JSON, one field a line: the real layout.

    `meta` is shown as the Hub stores it: a struct when one holds every record's meta (`meta_struct`), else
    JSON text; the `category` column is there when the table has one (`twgrpo_data.io.arrow.has_categories`)."""
    records = [r for recs in splits.values() for r in recs]
    chosen = next((r for r in records if r.qai and r.qai.get("negated")), records[0] if records else None)
    if chosen is None:
        return "{}"
    fields = record_to_row(chosen, meta_struct=meta_struct, category=has_categories(records)).items()
    return "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields) + "\n}"


# Characters that start Markdown or HTML syntax inside a line: links and images (`[`, `]`), code spans, table
# cells, headings, emphasis, HTML tags and entities. Letters, digits, '_', '.', '-' and '/' stay as they are,
# so ids, split names and paths read the same inside a code block.
_MARKDOWN_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "#": "\\#",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        **dict.fromkeys("\r\n\v\f\u2028\u2029", " "),
    }
)
# What makes a line a list item, a heading underline or a quote when it starts one.
_LINE_START = re.compile(r"^(\s*\d*)([-+=.)])(?=\s|$)")


def markdown_text(value: Any) -> str:
    """`value` as plain text inside a line of Markdown: no link, image, HTML, heading or table cell break can
    come out of it (`"x\\n# Hi [a](u)"` → `"x \\# Hi \\[a\\](u)"`), as Jupyter's sanitiser would keep it text."""
    text = str(value).translate(_MARKDOWN_ESCAPES)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_code(value: Any) -> Any:
    """`value` as an inline code span whose fence is longer than any run of backticks inside it (CommonMark),
    on one line, `|` escaped (a table cell holds it): nothing inside is read as Markdown or HTML."""
    from markupsafe import Markup

    text = " ".join(str(value).splitlines()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def _as_trusted(use: SourceUse) -> SourceUse:
    """A registry source's facts as `Markup` (they hold the registry's own Markdown: links, code); a source the
    registry does not know keeps its name from the data, which the card escapes."""
    from markupsafe import Markup

    if use.key not in source_table():
        return use
    trusted = {
        f.name: Markup(v) for f in dataclasses.fields(use.info) if isinstance(v := getattr(use.info, f.name), str)
    }
    return dataclasses.replace(use, info=dataclasses.replace(use.info, **trusted))


def render_card(
    splits: Mapping[str, Sequence[Record]],
    *,
    repo_id: str,
    template: str | Path | None = None,
    report: QaiReport | None = None,
    hub_metadata: Mapping[str, Any] | None = None,
    stated_license: str | None = None,
    stats: DatasetStats | None = None,
    meta_struct: bool | None = None,
) -> DatasetCard:
    """Render a `huggingface_hub.DatasetCard` for `splits` (split name → records).

    `template`: a shipped template name or a file (default: `choose_template`); `report`: the QAI report
    (checked against the data with `check_report`); `hub_metadata`: `dataset_info`/`configs` to merge
    into the YAML (from `twgrpo_data.hub.layout`); `stated_license`: the licence of sources the registry does not
    know (`--license`); `stats` (`DatasetStats.from_splits(splits)`) and `meta_struct` (whether the Hub
    stores `meta` as a struct) when the caller has them already. Template metadata wins over computed licence
    metadata, so a card file can state a licence the source table does not know. The paper's `arxiv:` tag is
    always added.
    """
    from huggingface_hub import DatasetCard, DatasetCardData
    from markupsafe import Markup

    stats = DatasetStats.from_splits(splits) if stats is None else stats
    if meta_struct is None:
        meta_struct = meta_struct_feature(r for recs in splits.values() for r in recs) is not None
    if report is not None:
        check_report(stats, report)
    path = template_path(template or choose_template(stats))
    try:
        content = path.read_text(encoding="utf-8")
        source = DatasetCard(content)
    except (ValueError, UnicodeDecodeError) as exc:  # YAML block that is not a mapping, binary file
        raise InputFormatError(f"{path}: not a card template: {exc}") from None
    uses = source_uses(stats, stated_license)
    metadata = _card_metadata(repo_id, stats, uses, source.data.to_dict(), hub_metadata)
    context = dict(
        repo_id=repo_id,
        pretty_name=metadata["pretty_name"],
        stats=stats,
        report=report,
        sources=[_as_trusted(u) for u in uses],
        example=Markup(_example(splits, meta_struct)),
        meta_struct=meta_struct,
        category=has_categories(r for recs in splits.values() for r in recs),
        toolkit_version=__version__,
        twgrpo_citation=Markup(TWGRPO_CITATION),
    )
    header_lines = content[: len(content) - len(source.text)].count("\n")
    body = _render_body(path, source.text, header_lines, context)
    data = DatasetCardData(**metadata)
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body.lstrip()}")


def _card_metadata(
    repo_id: str,
    stats: DatasetStats,
    uses: Sequence[SourceUse],
    static: Mapping[str, Any],
    hub_metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The card's YAML: name, licences and size computed here, overridden by the template's own metadata
    (`static`), then the Hub's `dataset_info`/`configs`; the paper's `arxiv:` tag last."""
    metadata: dict[str, Any] = {
        "pretty_name": repo_id.split("/")[-1],
        **licence_metadata(uses),
        "size_categories": [size_category(stats.n_records)],
    }
    metadata.update(static)
    metadata.update(hub_metadata or {})
    arxiv_tag = f"arxiv:{TWGRPO_ARXIV}"
    metadata["tags"] = [*(t for t in metadata.get("tags") or [] if t != arxiv_tag), arxiv_tag]
    return metadata


def _render_body(path: Path, text: str, header_lines: int, context: Mapping[str, Any]) -> str:
    """The template body `text` (of the card file `path`, after its `header_lines` of YAML) rendered with
    `context`; a template error names the file and line."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from markupsafe import Markup

    # A card file (`--card FILE`) is code the user did not necessarily write: Jinja's sandbox keeps it from
    # reaching Python objects (`cycler.__init__.__globals__.os`); `finalize` writes every text from the data
    # (sources, report fields, paths) as plain Markdown text, so a record cannot inject a heading, a link or an
    # HTML image into the public card. Trusted text (the registry's facts, the example block) is `Markup`.
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(path.parent), str(CARDS_DIR)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        finalize=lambda value: (
            value if isinstance(value, Markup) or not isinstance(value, str) else markdown_text(value)
        ),
    )
    env.filters["pct"] = lambda x, digits=1: f"{100 * x:.{digits}f}%"
    env.filters["code"] = markdown_code
    try:
        return env.from_string(text).render(**context)
    except jinja2.TemplateError as exc:
        # syntax errors know their line in the body (or in an extended template, named by `exc.name`)
        lineno = getattr(exc, "lineno", None)
        where = (
            ""
            if not lineno
            else (
                f" line {lineno + header_lines}"
                if getattr(exc, "name", None) is None
                else f" ({exc.name} line {lineno})"
            )
        )
        raise InputFormatError(f"{path}{where}: template error: {exc}") from None
