"""Every reader and every page renderer against the hostile-inputs corpus (`tests/hostile/`, issue 31).

Each call runs under a watch (a `sys.audit` hook, and decord's reader wrapped) that records any file opened in
the "private" folder the corpus names, any connection and any program started. A call must either read its
input or stop with one `TwgrpoError` line; any other exception, any private file opened, any connection or
program is a failure. Pages must stay inert: only their own two script blocks, no event handler attribute, no
source or link outside the page, hostile text shown as text.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from paths import VIDEOS

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.io.writers import write_records
from twgrpo_data.record import Record

CORPUS = Path(__file__).parent / "hostile"
CANARY = "PRIVATE-CANARY-31"
_TEXT_SUFFIXES = {".json", ".jsonl", ".csv", ".md"}


# ----------------------------------------------------------------------------------------------------------
# the watch


class _Watch:
    private: str | None = None
    seen: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if _Watch.private is None:
        return
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0]) if not isinstance(args[0], int) else ""
        if os.path.abspath(path).startswith(_Watch.private):
            _Watch.seen.append(f"opened {path}")
    elif event in ("socket.connect", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        _Watch.seen.append(f"{event} {args[:2]!r}")


sys.addaudithook(_audit)


@contextlib.contextmanager
def watching(private: Path, monkeypatch) -> Iterator[list[str]]:
    """Record what the code inside does to `private`, the network and other programs."""
    import decord

    real = decord.VideoReader

    def reader(path, *args, **kwargs):
        if os.path.abspath(os.fsdecode(path)).startswith(str(private)):
            _Watch.seen.append(f"decoded {path}")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(decord, "VideoReader", reader)
    _Watch.private, _Watch.seen = str(private), []
    try:
        yield _Watch.seen
    finally:
        _Watch.private = None
        monkeypatch.setattr(decord, "VideoReader", real)


def attempt(label: str, private: Path, monkeypatch, call: Callable[..., Any], *args, **kwargs) -> tuple[Any, list[str]]:
    """`(result or the TwgrpoError, problems)` of `call(*args, **kwargs)`: problems are anything but a result or
    a one-line TwgrpoError, and anything the watch saw."""
    problems = []
    with watching(private, monkeypatch) as seen:
        try:
            result = call(*args, **kwargs)
        except TwgrpoError as exc:
            result = exc
            if "\n" in str(exc).strip():
                problems.append(f"{label}: a message of several lines: {exc}")
        except Exception as exc:  # noqa: BLE001 — the finding this test exists for
            result = exc
            problems.append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
    problems += [f"{label}: {what}" for what in seen]
    return result, problems


# ----------------------------------------------------------------------------------------------------------
# the corpus, made concrete


@pytest.fixture(scope="module")
def private(tmp_path_factory) -> Path:
    """The reader's private files the corpus points at: a video, a records file, an Arrow file."""
    folder = tmp_path_factory.mktemp("private")
    shutil.copy(VIDEOS / "video_12176.mp4", folder / "holiday.mp4")
    secret = [Record(CANARY, "my private question?", ["yes", "no"], ["A"], source="mmvu")]
    write_records(secret, folder / "secret.jsonl")
    write_records(secret, folder / "saved", "hf")
    shutil.move(folder / "saved" / "data-00000-of-00001.arrow", folder / "data-00000-of-00001.arrow")
    return folder


def _generated(spec: dict[str, Any]) -> bytes:
    if "nesting" in spec:
        return ("[" * spec["nesting"] + "]" * spec["nesting"]).encode()
    if "digits" in spec:
        return (
            json.dumps({"id": "big", "question": "q?", "options": ["a", "b"], "answer": ["A"]})
            .replace('"big"', "9" * spec["digits"])
            .encode()
        )
    return spec["latin1"].encode("latin-1")


def _archive(members: dict[str, Any]) -> bytes:
    if set(members) == {"raw"}:
        return members["raw"].encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            if isinstance(content, dict) and "link" in content:
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o120777) << 16
                zf.writestr(info, content["link"])
            elif isinstance(content, dict):
                zf.writestr(name, bytes(content["zeros"]))
            else:
                zf.writestr(name, content)
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, private) -> Path:
    """The corpus with `@PRIVATE@` / `@PRIVATE_UP@` filled in, its generated files and its archives."""
    out = tmp_path_factory.mktemp("corpus")
    up = "../" * 40 + str(private).lstrip("/")
    for src in CORPUS.rglob("*"):
        if src.is_dir() or src.name in ("README.md", "generated.json", "archives.json"):
            continue
        dst = out / src.relative_to(CORPUS)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix in _TEXT_SUFFIXES:
            text = src.read_text(encoding="utf-8").replace("@PRIVATE_UP@", up).replace("@PRIVATE@", str(private))
            dst.write_text(text, encoding="utf-8")
        else:
            shutil.copy(src, dst)
    for name, spec in json.loads((CORPUS / "generated.json").read_text()).items():
        (out / name).write_bytes(_generated(spec))
    (out / "archives").mkdir()
    archives = json.loads((CORPUS / "archives.json").read_text().replace("@PRIVATE@", str(private)))
    for name, members in archives.items():
        (out / "archives" / name).write_bytes(_archive(members))
    return out


def data_inputs(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "data").rglob("*") if p.is_file() and p.parent.name != "saved") + [
        corpus / "data" / "saved"
    ]


# ----------------------------------------------------------------------------------------------------------
# readers


def _readers(tmp: Path) -> dict[str, Callable[[Path], Any]]:
    from twgrpo_data.benchmarks import BENCHMARKS, check_record_videos, load_benchmark
    from twgrpo_data.hub.publish import publish
    from twgrpo_data.io.readers import read_interchange
    from twgrpo_data.sources import open_input
    from twgrpo_eval.rescore import rescore_log
    from twgrpo_train.data import load_train_dataset

    def preview(path: Path) -> Any:
        out = tmp / f"preview-{path.name}"
        shutil.rmtree(out, ignore_errors=True)
        return publish(path, "me/x", dry_run=True, out=out, license="mit", permission=True)

    readers: dict[str, Callable[[Path], Any]] = {
        "open_input": open_input,
        "read_interchange": read_interchange,
        "train_file": lambda p: load_train_dataset(p, require_video=False),
        "data validate --video-root": lambda p: check_record_videos(open_input(p).records, VIDEOS),
        "publish --dry-run": preview,
        "eval rescore": rescore_log,
    }
    readers.update({f"load_benchmark {name}": functools.partial(load_benchmark, name) for name in BENCHMARKS})
    return readers


READER_NAMES = [
    "open_input",
    "read_interchange",
    "train_file",
    "data validate --video-root",
    "publish --dry-run",
    "eval rescore",
    *(f"load_benchmark {n}" for n in __import__("twgrpo_data.benchmarks", fromlist=["BENCHMARKS"]).BENCHMARKS),
]


@pytest.mark.parametrize("reader", READER_NAMES)
def test_every_reader_reads_or_refuses_hostile_data_and_reads_nothing_private(
    reader, corpus, private, tmp_path, monkeypatch
):
    call = _readers(tmp_path)[reader]
    inputs = data_inputs(corpus) + (sorted((corpus / "logs").iterdir()) if reader == "eval rescore" else [])
    problems = []
    for path in inputs:
        result, found = attempt(f"{reader}({path.relative_to(corpus)})", private, monkeypatch, call, path)
        problems += found
        if reader == "publish --dry-run" and not isinstance(result, BaseException):
            written = "".join(p.read_bytes().decode("utf-8", "replace") for p in result.folder.rglob("*.md"))
            problems += [f"publish({path.name}): the card holds a private record"] * (CANARY in written)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------------------
# page renderers


class _Tags(HTMLParser):
    """The tags and attributes of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def inert_page_problems(html: str, label: str) -> list[str]:
    """What in a page could run or load something: a script beyond the page's own two blocks (JSON data and its
    script), an `on…` handler, a source or link that is not `data:` or a fragment, a CANARY."""
    parser = _Tags()
    parser.feed(html)
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    problems = [f"{label}: {len(scripts)} script blocks"] if len(scripts) != 2 else []
    for tag, attrs in parser.tags:
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"{label}: <{tag} {name}=…>")
            if name in ("src", "href", "action", "formaction", "srcset") and not str(value).startswith(("data:", "#")):
                problems.append(f"{label}: <{tag} {name}={value!r}>")
        if tag in ("iframe", "object", "embed", "base", "form", "meta") and not (
            tag == "meta" and set(attrs) <= {"charset", "name", "content", "http-equiv"}
        ):
            problems.append(f"{label}: <{tag}>")
    if CANARY in html:
        problems.append(f"{label}: a private record on the page")
    return problems


def test_eval_report_renders_hostile_run_folders_inert_and_reads_nothing_they_name(corpus, private, monkeypatch):
    from twgrpo_eval.report import build_report

    problems = []
    for run in sorted((corpus / "runs").iterdir()):
        for options in ({}, {"video_root": VIDEOS}, {"video_root": VIDEOS, "data": corpus / "data" / "markup.jsonl"}):
            label = f"eval report {run.name} {sorted(options)}"
            html, found = attempt(label, private, monkeypatch, build_report, [run], **options)
            problems += found
            if isinstance(html, str):
                problems += inert_page_problems(html, label)
    assert not problems, "\n".join(problems)


def test_qai_report_renders_hostile_reports_inert_and_reads_nothing_they_name(corpus, private, monkeypatch):
    from twgrpo_data.qai.report_html import qai_page_from_file

    problems = []
    for report in sorted((corpus / "reports").glob("*.json")) + [corpus / "data" / "markup.jsonl"]:
        label = f"qai report {report.name}"
        html, found = attempt(label, private, monkeypatch, qai_page_from_file, report)
        problems += found
        if isinstance(html, str):
            problems += inert_page_problems(html, label)
    assert not problems, "\n".join(problems)


def test_hostile_card_templates_run_nothing_and_read_nothing(corpus, private, tmp_path, monkeypatch):
    from twgrpo_data.hub.publish import publish

    problems = []
    for card in sorted((corpus / "cards").glob("*.md")):
        out = tmp_path / card.stem
        label = f"publish --card {card.name}"
        data = corpus / "data" / "markup.jsonl"
        result, found = attempt(
            label, private, monkeypatch, publish, data, "me/x", card=card, dry_run=True, out=out, license="mit"
        )
        problems += found
        if not isinstance(result, TwgrpoError):
            problems.append(f"{label}: rendered ({result!r})")
    assert not (private / "pwned").exists()
    assert not problems, "\n".join(problems)


def card_problems(card: str, label: str) -> list[str]:
    """What in a card, rendered as the Hub renders Markdown (CommonMark, HTML on), is not plain text from the
    data: HTML tags, images, links other than the registry's own, a CANARY."""
    from markdown_it import MarkdownIt

    parser = _Tags()
    parser.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(card.split("\n---\n", 1)[-1]))
    problems = [f"{label}: a private record in the card"] * (CANARY in card)
    for tag, attrs in parser.tags:
        if tag in ("script", "img", "iframe", "svg", "style", "object") or any(k.startswith("on") for k in attrs):
            problems.append(f"{label}: <{tag} {attrs}>")
        href = attrs.get("href") or ""
        if tag == "a" and not href.startswith(
            ("#", "https://github.com/", "https://huggingface.co/", "http://clevrer")
        ):
            problems.append(f"{label}: a link to {href!r}")
    return problems


def test_cards_made_from_hostile_records_and_reports_are_plain_text(corpus, private, tmp_path, monkeypatch):
    from twgrpo_data.hub.publish import publish

    problems = []
    data = corpus / "data" / "markup.jsonl"
    for report in [None, *sorted((corpus / "reports").glob("*.json"))]:
        label = f"publish --report {report.name if report else '(none)'}"
        out = tmp_path / label.replace(" ", "_")
        result, found = attempt(
            label, private, monkeypatch, publish, data, "me/x", report=report, dry_run=True, out=out, license="mit"
        )
        problems += found
        if not isinstance(result, BaseException):
            problems += card_problems((out / "README.md").read_text(encoding="utf-8"), label)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "command",
    [
        ("eval", "compare"),
        ("eval", "compare", "--table"),
        ("eval", "rescore"),
        ("eval", "merge"),
        ("eval", "report"),
    ],
)
def test_commands_over_hostile_run_folders_stop_in_one_line(command, corpus, private, tmp_path, monkeypatch):
    problems = []
    for run in sorted((corpus / "runs").iterdir()):
        args: list[Any] = [*command, run / "samples.jsonl" if command[-1] == "rescore" else run]
        if command[-1] in ("merge", "report"):
            args += ["-o", tmp_path / (run.name + (".html" if command[-1] == "report" else ""))]
        label = " ".join(map(str, args))
        result, found = attempt(label, private, monkeypatch, run_cli, *args)
        problems += found
        if result.code not in (0, 1, 2) or "internal error" in result.stderr or "Traceback" in result.stderr:
            problems.append(f"{label}: exit {result.code}: {result.stderr.strip()[:300]}")
        elif result.code and len(result.err_lines) != 1:
            problems.append(f"{label}: {len(result.err_lines)} error lines")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------------------------------------
# archives


def test_hostile_archives_are_refused_in_one_line_or_stay_in_their_folder(corpus, private, tmp_path, monkeypatch):
    from twgrpo_data.errors import HubError
    from twgrpo_data.hub.archives import unpack_archive

    before = sorted(p.name for p in private.iterdir())
    dest = tmp_path / "unpacked" / "commit"
    problems = []
    for archive in sorted((corpus / "archives").iterdir()):
        result, found = attempt(archive.name, private, monkeypatch, unpack_archive, archive, dest, name=archive.name)
        problems += found
        if isinstance(result, TwgrpoError) and not isinstance(result, HubError):
            problems.append(f"{archive.name}: {type(result).__name__} is not a HubError")
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents and "unpacked" not in p.parts]
    assert not problems, "\n".join(problems)
    assert outside == [] and sorted(p.name for p in private.iterdir()) == before
    other = tmp_path / "other.zip"
    other.write_bytes(_archive({"other.mp4": "real"}))
    assert unpack_archive(other, dest, name="other.zip") == 1  # marker.zip did not mark it unpacked
