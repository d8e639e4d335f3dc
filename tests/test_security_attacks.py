"""Issue 31, one attack per item: a hostile Hub repository (`fake_hub.hostile_repos`), a hostile
OpenAI-compatible server, crafted run folders, data files, card templates and archives. Each test is the attack
as an attacker would mount it, and checks that it does not work: nothing of the victim's files is read or sent,
no secret is written or printed, no code runs — and the command stops with one line where it has to refuse."""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from eval_helpers import FakeOpenAIServer
from fake_hub import OUTSIDE_FORMS, hostile_readme_repo, serve
from paths import VIDEOS

from twgrpo_data.io.unified_format import record_to_unified
from twgrpo_data.io.writers import write_records
from twgrpo_data.record import Record

# ----------------------------------------------------------------------------------------------------------
# helpers


def _video_set(tmp_path: Path, n: int = 2) -> Path:
    records = [
        Record(f"k{i}", f"Question {i}?", ["left", "right"], ["A"], video="clevrer_8.mp4", source="mmvu")
        for i in range(n)
    ]
    data = tmp_path / "set.json"
    data.write_text(json.dumps([record_to_unified(r) for r in records]))
    return data


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _written(folder: Path) -> str:
    """Everything under `folder`, as text (binary files decoded leniently)."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())


def _eval_openai(data: Path, api_base: str, out: Path, *extra: Any):
    """`twgrpo eval --data DATA` with the openai backend at `api_base` (serving "served-model"), 2 tiny frames."""
    backend = ["--model", "served-model", "--backend", "openai", "--api-base", api_base]
    frames = ["--frames", "2", "--min-pixels", "3136", "--max-pixels", "3136"]
    return run_cli("eval", "--bench", "mmvu", "--data", data, *backend, *frames, "--no-progress", "--out", out, *extra)


# ----------------------------------------------------------------------------------------------------------
# 1. a Hub dataset's README points its data files at local files

PRIVATE_ID = "PRIVATE-RECORD-7f3a"


def _private_records(tmp_path: Path) -> Path:
    """A records file of the victim's machine that a hostile repository names."""
    private = tmp_path / "private" / "secret.jsonl"
    private.parent.mkdir()
    write_records([Record(PRIVATE_ID, "my private question?", ["yes", "no"], ["A"], source="nextgqa")], private)
    return private


def _train_file(path: str) -> None:
    from twgrpo_train.data import load_train_dataset

    load_train_dataset(path, require_video=False)


HUB_READERS = {
    "publish --dry-run": lambda data: run_cli(
        "publish", data, "--repo-id", "me/copy", "--dry-run", "--license", "mit", "-o", "preview"
    ),
    "qai convert": lambda data: run_cli("qai", "convert", data, "-o", "converted.jsonl"),
    "data stats": lambda data: run_cli("data", "stats", data, "--json"),
    "eval --data": lambda data: run_cli(
        "eval", "--bench", "unified", "--data", data, "--model", "./no-model", "--backend", "transformers", "-o", "run"
    ),
    "train_file": _train_file,
}


@pytest.mark.parametrize("form", OUTSIDE_FORMS)
@pytest.mark.parametrize("command", sorted(HUB_READERS))
def test_a_hub_readme_pointing_at_a_local_file_is_refused(tmp_path, monkeypatch, form, command):
    from twgrpo_data.errors import HubError

    private = _private_records(tmp_path)
    hub = serve({"evil/data": hostile_readme_repo(form, private)}, monkeypatch, tmp_path)
    try:
        try:
            result = HUB_READERS[command]("hf://datasets/evil/data")
        except HubError as exc:  # the library call (train_file) raises what the CLI prints
            result = None
            message = str(exc)
        else:
            assert result.code == 1, (result.stdout, result.stderr)
            message = result.stderr
    finally:
        hub.close()
    if command != "eval --data":  # eval reads a folder with its own readers: refused as no dataset at all
        assert "README.md: data file" in message and "refusing to read outside the downloaded repository" in message
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and p != private]
    assert not any(PRIVATE_ID.encode() in p.read_bytes() for p in outside)
    assert result is None or PRIVATE_ID not in result.stdout + result.stderr


@pytest.mark.parametrize("ref", ["hf://datasets/me/x/../../../etc", "hf://datasets/me/x/data/../../.."])
def test_a_hub_path_cannot_climb_out_of_its_repository(ref):
    from twgrpo_data.errors import TwgrpoError
    from twgrpo_data.hub.download import parse_hub_ref

    with pytest.raises(TwgrpoError, match="a '..' in a Hub path would leave the repository"):
        parse_hub_ref(ref)


def test_a_hub_dataset_whose_readme_names_its_own_shards_still_loads(tmp_path, monkeypatch):
    from fake_hub import records_parquet

    from twgrpo_data.sources import open_input

    records = [Record(f"r{i}", "why did he run?", ["x", "y"], ["B"], source="nextgqa") for i in range(3)]
    readme = b"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: validation\n    path: data/val*\n---\n"
    files = {"README.md": readme, "data/val-00000-of-00001.parquet": records_parquet(records)}
    hub = serve({"me/plain": {"files": files}}, monkeypatch, tmp_path)
    try:
        assert open_input("hf://datasets/me/plain", split="validation").raise_or_skip(False).records == records
    finally:
        hub.close()


# ----------------------------------------------------------------------------------------------------------
# 2. credentials in URLs


def test_credentials_in_the_api_base_url_reach_no_file_and_no_line(tmp_path):
    password = "hunter2-url-password"
    data = _video_set(tmp_path)
    server = FakeOpenAIServer()
    try:
        base = server.url.replace("http://", f"http://alice:{password}@")
        run = tmp_path / "run"
        ok = _eval_openai(data, base, run, "--video-root", VIDEOS)
        assert ok.code == 0, ok.stderr
        config = json.loads((run / "config.json").read_text())
        assert config["backend_options"]["api_base"].startswith("http://alice:****@127.0.0.1:")  # as pip shows it
    finally:
        server.close()
    down = _eval_openai(
        data, f"http://alice:{password}@127.0.0.1:{_closed_port()}/v1", tmp_path / "down", "--video-root", VIDEOS
    )
    assert down.code == 1 and "no usable OpenAI-compatible server at http://alice:****@127.0.0.1" in down.stderr
    for text in (ok.stdout, ok.stderr, down.stdout, down.stderr, _written(run)):
        assert password not in text


def test_credentials_in_hf_endpoint_are_not_printed_by_publish(tmp_path, monkeypatch):
    from huggingface_hub import constants

    password = "endpoint-password-77"
    monkeypatch.setattr(constants, "ENDPOINT", f"http://bob:{password}@127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_publishing_token_0123456789")
    records = [Record("a", "why did he run?", ["x", "y"], ["A"], source="nextgqa")]
    write_records(records, tmp_path / "d.jsonl")
    result = run_cli("publish", tmp_path / "d.jsonl", "--repo-id", "me/x", cwd=tmp_path)
    assert result.code == 1 and "could not reach http://bob:****@127.0.0.1" in result.stderr
    assert password not in result.stdout + result.stderr


# ----------------------------------------------------------------------------------------------------------
# 3. the environment's key


def test_a_server_echoing_the_environment_key_gets_it_into_no_file_and_no_line(tmp_path, monkeypatch):
    key = "sk-from-the-environment-4242"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    data = _video_set(tmp_path)
    server = FakeOpenAIServer(echo_auth=True)  # hostile: answers 401 "invalid key: Bearer <the key>"
    try:
        run = tmp_path / "run"
        result = _eval_openai(data, server.url, run, "--video-root", VIDEOS)
    finally:
        server.close()
    assert server.auth[-1] == f"Bearer {key}"  # the key was used, and the server sent it back
    assert result.code == 1 and "every item of the first batch" in result.stderr
    samples = (run / "samples.jsonl").read_text()
    assert "invalid key: Bearer <redacted>" in samples
    for text in (result.stdout, result.stderr, _written(run)):
        assert key not in text


# ----------------------------------------------------------------------------------------------------------
# 6. a card file runs code


@pytest.mark.parametrize(
    "payload",
    [
        "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
        "{{ lipsum.__globals__['os'].popen('touch MARKER').read() }}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        "{{ c(['touch', 'MARKER']) }}{% endif %}{% endfor %}",
    ],
)
def test_a_card_template_cannot_run_code(tmp_path, payload):
    marker = tmp_path / "pwned"
    card = tmp_path / "CARD.md"
    card.write_text("---\nlicense: mit\n---\n# Card\n" + payload.replace("MARKER", str(marker)) + "\n")
    write_records([Record("a", "why did he run?", ["x", "y"], ["A"], source="nextgqa")], tmp_path / "d.jsonl")
    result = run_cli(
        "publish", tmp_path / "d.jsonl", "--repo-id", "me/x", "--card", card, "--dry-run", "-o", tmp_path / "preview"
    )
    assert not marker.exists()
    assert result.code == 1 and f"{card}: template error: access to attribute" in result.stderr
    assert "unsafe" in result.stderr
    assert len(result.err_lines) == 1 and not (tmp_path / "preview").exists()


# ----------------------------------------------------------------------------------------------------------
# 7. what `publish` sends


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("video", "file://{tmp}/videos/1.mp4", "a file: URL"),
        ("video", "../../private/1.mp4", "a relative path that climbs out with '..'"),
        ("id", "{tmp}/videos/1.mp4#3", "a local absolute path"),
        ("meta", {"note": "cut from {tmp}/videos/raw.mp4 with ffmpeg"}, "a local absolute path"),
    ],
)
def test_publish_refuses_every_form_of_a_local_path(tmp_path, field, value, why):
    from twgrpo_data.errors import TwgrpoError
    from twgrpo_data.hub.publish import publish

    (tmp_path / "videos").mkdir()
    value = json.loads(json.dumps(value).replace("{tmp}", tmp_path.as_posix()))
    records = [
        Record("fine", "why did he run?", ["x", "y"], ["A"], video="1.mp4", source="nextgqa"),
        Record("a", "why did he run?", ["x", "y"], ["A"], video="2.mp4", source="nextgqa").replace(**{field: value}),
    ]
    write_records(records, tmp_path / "d.jsonl")
    with pytest.raises(TwgrpoError) as info:
        publish(tmp_path / "d.jsonl", "me/x", dry_run=True, out=tmp_path / "preview")
    shown = value if field == "id" else "a"
    assert str(info.value).startswith(f"record {shown!r}, field {field!r}: holds {why} (")
    assert not (tmp_path / "preview").exists()


def test_record_text_reaches_the_public_card_as_text(tmp_path):
    """A record's `source` (and a report's fields) written as Markdown/HTML: a heading, a link, a tracking
    image. The card, rendered by a CommonMark renderer with HTML on (as the Hub renders it), has none of them."""
    from markdown_it import MarkdownIt

    from twgrpo_data.hub.publish import publish

    evil = (
        "mine\n# Injected heading\n[click me](https://evil.example/phish) ![t](https://tracker.example/a.png) "
        "<img src=https://tracker.example/b.png> | cell `code"
    )
    records = [
        Record(
            "a",
            "why did he run?",
            ["x", "y"],
            ["A"],
            video="v`<img src=https://tracker.example/c.png>`.mp4",
            source=evil,
        ),
    ]
    write_records(records, tmp_path / "d.jsonl")
    publish(tmp_path / "d.jsonl", "me/x", dry_run=True, out=tmp_path / "preview", license="mit")
    card = (tmp_path / "preview" / "README.md").read_text()
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(card.split("\n---\n", 1)[1])
    assert "Injected heading</h1>" not in html and "<img" not in html
    assert not [href for href in re.findall(r'<a href="([^"]*)"', html) if "example" in href]
    assert "# Injected heading" in html  # still there, as text


# ----------------------------------------------------------------------------------------------------------
# 5. absolute paths from data files


def _data_with_a_private_video(tmp_path: Path) -> tuple[Path, Path]:
    """A data file whose first record's video sits beside it (named by its absolute path, so that it is found
    with or without a video root) and whose second names a private video of the machine."""
    import shutil

    private = tmp_path / "private" / "holiday.mp4"
    private.parent.mkdir()
    shutil.copy(VIDEOS / "clevrer_8.mp4", private)
    folder = tmp_path / "received"
    folder.mkdir()
    shutil.copy(VIDEOS / "video1.mp4", folder / "ok.mp4")
    records = [
        Record("ok", "What happens?", ["a", "b"], ["A"], video=str(folder / "ok.mp4"), source="mmvu"),
        Record("snoop", "What happens?", ["a", "b"], ["A"], video=str(private), source="mmvu"),
    ]
    data = folder / "set.json"
    data.write_text(json.dumps([record_to_unified(r) for r in records]))
    return data, private


def test_without_a_video_root_a_data_file_cannot_send_a_private_video_to_the_server(tmp_path):
    data, _ = _data_with_a_private_video(tmp_path)
    server = FakeOpenAIServer()
    try:
        confined = _eval_openai(data, server.url, tmp_path / "run", "--batch-size", "1")
        sent_confined = len(server.bodies)
        opted_out = _eval_openai(data, server.url, tmp_path / "run2", "--batch-size", "1", "--allow-outside-video-root")
    finally:
        server.close()
    assert confined.code == 0, confined.stderr
    assert sent_confined == 1  # only the video beside the data file reached the server
    lines = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()}
    assert "outside the video root" in lines["snoop"]["error"] and lines["ok"]["error"] is None
    assert opted_out.code == 0 and len(server.bodies) == 3  # the user's explicit choice


def test_train_data_cannot_reach_a_private_video_outside_its_folder(tmp_path):
    from twgrpo_data.errors import RecordError
    from twgrpo_train.data import load_train_dataset

    data, private = _data_with_a_private_video(tmp_path)
    with pytest.raises(RecordError, match=r"record 1 \(id 'snoop'\), field 'video': .* outside the video root"):
        load_train_dataset(data)
    rows = load_train_dataset(data, allow_outside_video_root=True)
    assert rows[1]["prompt"][0]["content"][0]["video"] == str(private)


# ----------------------------------------------------------------------------------------------------------
# 8. smaller: `data validate` fails on paths that escape the root


def test_data_validate_fails_on_a_video_path_escaping_the_root(tmp_path):
    records = [Record("up", "q?", ["x", "y"], ["A"], video="../../../etc/passwd.mp4", source="mmvu")]
    write_records(records, tmp_path / "d.jsonl")
    (tmp_path / "videos").mkdir()
    result = run_cli("data", "validate", tmp_path / "d.jsonl", "--video-root", tmp_path / "videos")
    assert result.code == 1 and "error:" in result.stderr and "escapes the video root" in result.stderr


# ----------------------------------------------------------------------------------------------------------
# 4. rendering a received run folder or report reads nothing of the reader's machine


def _item_block(html: str, item_id: str) -> str:
    start = html.index(f'data-id="{item_id}"')
    return html[start : html.index("</details>", start)]


def test_rendering_a_received_run_folder_opens_no_path_and_no_url_it_names(tmp_path, monkeypatch):
    import shutil

    from report_helpers import make_run, mixed_outputs

    outputs, _ = mixed_outputs()
    run = make_run(tmp_path / "received" / "run", outputs)
    private = tmp_path / "private" / "holiday.mp4"
    private.parent.mkdir()
    shutil.copy(VIDEOS / "video_12176.mp4", private)
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    rows[0]["video"] = str(private)  # a private video of the reader's machine, by its absolute path
    rows[1]["video"] = "../../private/holiday.mp4"  # the same, relative to the run folder
    for key in ("question", "options", "frame_indices"):
        rows[2].pop(key)  # an "older run": the report would look for the data file of config.json
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = json.loads((run / "config.json").read_text())
    config.update(data="hf://datasets/evil/data", video_root=str(private.parent))
    (run / "config.json").write_text(json.dumps(config))
    hub = serve({"evil/data": hostile_readme_repo("absolute", private)}, monkeypatch, tmp_path)
    try:
        plain = run_cli("eval", "report", run, "-o", tmp_path / "plain.html")
        assert plain.code == 0 and hub.requests == []  # nothing downloaded for a path config.json names
        assert '<div class="strip">' not in (tmp_path / "plain.html").read_text()  # no video read without a root
        result = run_cli("eval", "report", run, "--video-root", VIDEOS, "-o", tmp_path / "page.html")
    finally:
        hub.close()
    assert result.code == 0 and hub.requests == [], result.stderr
    html = (tmp_path / "page.html").read_text()
    for row in rows[:2]:
        block = _item_block(html, row["id"])
        assert '<div class="strip">' not in block and "the video is not under --video-root" in block
    assert "pass the run&#39;s data file with --data" in _item_block(html, rows[2]["id"])
    assert html.count('<div class="strip">') == sum(1 for r in rows[3:] if not r["error"])  # the rest: frames


def test_rendering_a_received_qai_report_opens_no_path_it_names(tmp_path):
    private = _private_records(tmp_path)
    received = tmp_path / "received"
    received.mkdir()
    report = {
        "counts": {"negated": 1},
        "n_records": 1,
        "seed": 0,
        "ratio": 1.0,
        "min_keep": 1,
        "input": str(private),
        "output": "../private/secret.jsonl",
    }
    (received / "report.json").write_text(json.dumps(report))
    result = run_cli("qai", "report", received / "report.json", "-o", tmp_path / "page.html")
    assert result.code == 0, result.stderr
    html = (tmp_path / "page.html").read_text()
    assert PRIVATE_ID not in html and "is not in the report&#39;s folder" in html


# ----------------------------------------------------------------------------------------------------------
# 8. smaller: archives from the Hub


def _deflated(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_zip_bomb_in_a_benchmark_repository_is_refused_in_one_line(tmp_path, monkeypatch):
    from fake_hub import benchmark_repos

    repos = {k: {**v, "files": dict(v["files"])} for k, v in benchmark_repos().items()}
    bomb = _deflated({f"{i}.mp4": bytes(20 * 1000 * 1000) for i in range(5)})  # 100 MB of zeros
    assert len(bomb) < 110_000
    repos["lmms-lab/NExTQA"]["files"]["videos.zip"] = bomb
    hub = serve(repos, monkeypatch, tmp_path)
    try:
        result = run_cli("data", "fetch", "--bench", "nextqa", "--videos")
    finally:
        hub.close()
    assert result.code == 1 and result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert "videos.zip: the archive would unpack to 100.0 MB from" in result.stderr and "zip bomb" in result.stderr
    unpacked = tmp_path / "hf_home" / "twgrpo" / "unpacked"
    assert not [p for p in unpacked.rglob("*") if p.is_file()]


def test_a_zip_with_too_many_members_is_refused(tmp_path, monkeypatch):
    from fake_hub import zipped

    from twgrpo_data.errors import HubError
    from twgrpo_data.hub import archives

    monkeypatch.setattr(archives, "MAX_ARCHIVE_MEMBERS", 10)
    (tmp_path / "many.zip").write_bytes(zipped({f"{i}.mp4": b"" for i in range(11)}))
    with pytest.raises(HubError, match=r"many.zip: the archive has 11 members \(more than 10\); refusing"):
        archives.unpack_archive(tmp_path / "many.zip", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_an_archive_cannot_mark_another_archive_as_unpacked(tmp_path):
    from fake_hub import zipped

    from twgrpo_data.hub import archives

    dest = tmp_path / "unpacked" / "commit"
    forged = {".twgrpo-unpacked/b.zip.done": b"1 files\n", "commit.unpacked/b.zip.done": b"x"}
    (tmp_path / "a.zip").write_bytes(zipped({"a.mp4": b"a", **forged}))
    (tmp_path / "b.zip").write_bytes(zipped({"b.mp4": b"b"}))
    archives.unpack_archive(tmp_path / "a.zip", dest, name="a.zip")
    assert archives.unpack_archive(tmp_path / "b.zip", dest, name="b.zip") == 1
    assert (dest / "b.mp4").read_bytes() == b"b"


@pytest.mark.parametrize(
    "members",
    [{"data/x": b"file", "data/x/y.mp4": b"video"}, {"data/x/y.mp4": b"video", "data/x": b"file"}],
)
def test_a_member_that_is_a_file_and_a_folder_is_a_one_line_refusal(tmp_path, members):
    from fake_hub import zipped

    from twgrpo_data.errors import HubError
    from twgrpo_data.hub import archives

    (tmp_path / "x.zip").write_bytes(zipped(members))
    with pytest.raises(HubError, match=r"x.zip: the archive has member 'data/x' both as a file and as a folder"):
        archives.unpack_archive(tmp_path / "x.zip", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


# ----------------------------------------------------------------------------------------------------------
# 8. smaller: the verb-table cache


@pytest.fixture()
def verb_cache(tmp_path, monkeypatch):
    from twgrpo_data.qai import verb_lemmas

    monkeypatch.setenv("TWGRPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(verb_lemmas, "build_table", lambda: {"picked": "pick", "ran": "run"})  # lemminflect's, fast
    verb_lemmas.table.cache_clear()
    assert verb_lemmas.verb_lemma("picked") == ("pick",)
    (cached,) = (tmp_path / "cache").iterdir()
    yield cached
    verb_lemmas.table.cache_clear()


def _forged_table(cached: Path) -> tuple[dict, bytes]:
    import marshal

    table = marshal.loads(cached.read_bytes()[32:])
    table["picked"] = "poison"  # "who picked up X" would be negated as "who did not poison up X"
    return table, marshal.dumps(table)


def test_a_forged_verb_table_with_a_bare_checksum_is_not_trusted(verb_cache):
    import hashlib

    from twgrpo_data.qai import verb_lemmas

    _, body = _forged_table(verb_cache)
    verb_cache.write_bytes(hashlib.sha256(body).digest() + body)  # what a bare self-checksum would accept
    verb_lemmas.table.cache_clear()
    assert verb_lemmas.verb_lemma("picked") == ("pick",)


def test_a_verb_table_that_others_may_write_is_not_unmarshalled(verb_cache):
    import hashlib
    import hmac

    from twgrpo_data.qai import verb_lemmas

    _, body = _forged_table(verb_cache)
    key = verb_lemmas._key(verb_lemmas._resource_stamp())  # even an attacker who knows every installed version
    verb_cache.write_bytes(hmac.new(key, body, hashlib.sha256).digest() + body)
    verb_cache.chmod(0o666)
    verb_lemmas.table.cache_clear()
    assert verb_lemmas.verb_lemma("picked") == ("pick",)


# ----------------------------------------------------------------------------------------------------------
# 8. smaller: a string where results.json has a number


@pytest.fixture(scope="module")
def genuine_run(tmp_path_factory) -> Path:
    from report_helpers import make_run, mixed_outputs

    return make_run(tmp_path_factory.mktemp("genuine") / "run", mixed_outputs()[0])


@pytest.mark.parametrize(
    ("change", "field", "shown"),
    [
        ({"accuracy": "91.2"}, "accuracy", '"91.2" is not a number'),
        ({"accuracy_ci95": "wide"}, "accuracy_ci95", '"wide" is not a list of numbers'),
        ({"single": {"n": 3, "accuracy": "high"}}, "single.accuracy", '"high" is not a number'),
        ({"by_category": {"Physics": 5}}, "by_category.Physics", "5 is not an object"),
        ({"run": "done"}, "run", '"done" is not an object'),
    ],
)
def test_a_crafted_results_json_is_a_one_line_error_in_eval_report(genuine_run, tmp_path, change, field, shown):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(genuine_run, run)
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps({**results, **change}))
    result = run_cli("eval", "report", run, "-o", tmp_path / "page.html")
    assert result.code == 1 and len(result.err_lines) == 1
    assert f"results.json: field {field!r}: {shown}" in result.stderr
    assert not (tmp_path / "page.html").exists()


# ----------------------------------------------------------------------------------------------------------
# 8. smaller: training_args.bin


def test_training_args_bin_keeps_no_hub_token(tmp_path):
    """transformers pickles the settings into every checkpoint (`torch.save(self.args, training_args.bin)`, and
    uploads them with push_to_hub): a shared checkpoint folder must not hand out the token."""
    import torch

    from twgrpo_train.config import load_config

    token = "hf_publishing_token_ABCDEFGHIJ"
    config = load_config(
        Path(__file__).parents[1] / "examples" / "train_tiny.yaml", [f"hub_token={token}", "model=tiny"]
    )
    assert config.hub_token == token  # the running process keeps it
    torch.save(config, tmp_path / "training_args.bin")  # as Trainer._save writes it
    assert token.encode() not in (tmp_path / "training_args.bin").read_bytes()
    assert torch.load(tmp_path / "training_args.bin", weights_only=False).hub_token == "<HUB_TOKEN>"


# ----------------------------------------------------------------------------------------------------------
# text from data files and received run folders in the terminal: shown as written, never read as rich markup

MARKUP = "[/oops] [bold red]loud[/]"


def test_data_text_in_terminal_tables_is_shown_as_written(tmp_path):
    """A category or a path holding rich markup is printed as text by `data stats`, `data load`, `qai convert`,
    `eval`, `eval rescore` and `eval compare` — an unbalanced closing tag would otherwise stop the command
    (MarkupError) — and a path is printed whole on one line, never folded to a table's width."""
    from eval_helpers import AnswerKey, run_with, text_records, write_set

    records = [
        Record(r.id, r.question, r.options, r.answer, source=r.source, meta={"category": MARKUP})
        for r in text_records(4)
    ]
    folder = tmp_path / "a folder [bold]x whose name is longer than any of the tables printed below"
    folder.mkdir()
    data = write_set(folder / "set.json", records)
    for args, shown in (
        (("data", "stats", data), (MARKUP, str(data))),
        (("data", "load", data), (MARKUP, str(data))),
        (("data", "load", data, "-o", folder / "[/oops]u.json"), (str(folder / "[/oops]u.json"),)),
        (("qai", "convert", data, "-o", folder / "q.json"), (str(data), str(folder / "q.json"))),
    ):
        done = run_cli(*args, env={"COLUMNS": "400"})
        assert done.code == 0, (args, done.stderr)
        assert all(text in done.stdout for text in shown), (args, done.stdout)
    run_with(folder / "a", data, AnswerKey({r.id: "A" for r in records}))
    run_with(folder / "b", data, AnswerKey({r.id: "B" for r in records}))
    log = folder / "[/oops] log.jsonl"
    shutil.copy(folder / "a" / "run" / "samples.jsonl", log)
    for args, shown in (
        (("eval", "rescore", folder / "a" / "run" / "samples.jsonl"), MARKUP),
        (("eval", "rescore", log), log.name),
        (("eval", "compare", folder / "a" / "run", folder / "b" / "run"), MARKUP),
    ):
        done = run_cli(*args, env={"COLUMNS": "400"})
        assert done.code == 0, (args, done.stderr)
        assert shown in done.stdout, (args, done.stdout)
