"""The one input door (issue 26, `twgrpo_data.sources`): every command accepts every input kind — a benchmark's
native file, unified JSON, records JSON Lines, parquet, a `save_to_disk` folder, a Hub dataset — and reads the same
records from each; a data argument is resolved once, at the edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import REPO, run_cli
from eval_helpers import FakeOpenAIServer
from fake_hub import serve

from twgrpo_data.hub.layout import write_hub_folder
from twgrpo_data.io.writers import write_records
from twgrpo_data.sources import DataSource, open_input, resolve_source

KINDS = ("native", "unified", "jsonl", "parquet", "hf", "hub")
N = 8


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """The same 8 real NExT-GQA val questions (text-only: no video field) in every input kind; `hub` is the Hub
    layout `twgrpo publish` writes, served later under `me/nextgqa-copy`."""
    folder = tmp_path_factory.mktemp("inputs")
    items = json.loads((REPO / "examples" / "nextgqa_val_sample.json").read_text(encoding="utf-8"))[:N]
    for item in items:
        del item["video"]
    native = folder / "nextgqa_val.json"
    native.write_text(json.dumps(items), encoding="utf-8")
    records = open_input(native).raise_or_skip(False).records
    paths = {"native": native}
    for kind, name in (("unified", "set.json"), ("jsonl", "set.jsonl"), ("parquet", "set.parquet"), ("hf", "set")):
        write_records(records, folder / name)
        paths[kind] = folder / name
    write_hub_folder({"validation": records}, folder / "hub", repo_id="me/nextgqa-copy")
    paths["hub"] = folder / "hub"
    return paths


@pytest.fixture()
def data_args(inputs, monkeypatch, tmp_path):
    """Input kind → the argument a user passes (the Hub kind as a Hub id on the fake Hub); cwd is `tmp_path`."""
    files = {p.relative_to(inputs["hub"]).as_posix(): p.read_bytes() for p in inputs["hub"].rglob("*") if p.is_file()}
    hub = serve({"me/nextgqa-copy": {"files": files}}, monkeypatch, tmp_path)
    yield {kind: ("me/nextgqa-copy" if kind == "hub" else str(path)) for kind, path in inputs.items()}
    hub.close()


def _ok(*args: str | Path):
    result = run_cli(*args)
    assert result.code == 0, (args, result.stderr[-2000:])
    return result


def _records_of(path: Path) -> list[dict]:
    return [r.to_dict() for r in open_input(path).raise_or_skip(False).records]


def _validate(data: str, out: Path):
    summary = json.loads(_ok("data", "validate", data, "--json").stdout)
    return summary["records"], summary["errors"], summary["warnings"]


def _stats(data: str, out: Path):
    return {k: v for k, v in json.loads(_ok("data", "stats", data, "--json").stdout).items() if k != "file"}


def _load(data: str, out: Path):
    _ok("data", "load", data, "-o", out / "loaded.jsonl", "--json")
    return _records_of(out / "loaded.jsonl")


def _convert(data: str, out: Path):
    _ok("qai", "convert", data, "-o", out / "qai.jsonl", "--ratio", "1", "--report", out / "report.json")
    page = _ok("qai", "report", out / "report.json", "-o", out / "qai.html", "--input", data)
    assert page.code == 0 and (out / "qai.html").is_file()
    return _records_of(out / "qai.jsonl")


def _publish(data: str, out: Path):
    _ok("publish", data, "--repo-id", "me/x", "--split", "validation", "--dry-run", "-o", out / "preview")
    shards = sorted((out / "preview" / "data").glob("*.parquet"))
    # the records published; the card too is made from them (but a parquet input's `meta` keys come back sorted)
    return [_records_of(shard) for shard in shards]


def _eval(data: str, out: Path):
    server = FakeOpenAIServer()
    try:
        _ok(
            "eval", "--bench", "nextgqa", "--data", data, "--model", "served-model", "--backend", "openai",
            "--api-base", server.url, "--allow-text-only", "--no-progress", "--out", out / "run",
        )  # fmt: skip
    finally:
        server.close()
    samples = [json.loads(line) for line in (out / "run" / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(s["id"], s["question"], s["options"], s["gold"], s["category"], s["parsed"]) for s in samples]


def _train_file(data: str, out: Path):
    from twgrpo_train.data import load_train_dataset

    return load_train_dataset(data, require_video=False).to_list()


COMMANDS = {
    "data validate": _validate,
    "data stats": _stats,
    "data load": _load,
    "qai convert + qai report": _convert,
    "publish --dry-run": _publish,
    "eval --data": _eval,
    "train_file": _train_file,
}


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reads_the_same_records_from_every_input_kind(command, data_args, tmp_path):
    read = COMMANDS[command]
    seen = {}
    for kind in KINDS:
        (tmp_path / kind).mkdir()
        seen[kind] = read(data_args[kind], tmp_path / kind)
    assert seen["native"], command
    assert all(seen[kind] == seen["native"] for kind in KINDS), {k: v for k, v in seen.items() if v != seen["native"]}


def test_every_input_kind_opens_to_the_same_records(inputs, data_args):
    expected = open_input(inputs["native"]).raise_or_skip(False).records
    assert len(expected) == N and {r.source for r in expected} == {"nextgqa"}
    for kind in KINDS:
        assert open_input(data_args[kind]).raise_or_skip(False).records == expected, kind


# ----------------------------------------------------------------------------------------------------------
# resolved once, at the edge


def test_a_local_path_is_resolved_once_and_never_looked_up_on_the_hub(inputs, monkeypatch):
    import twgrpo_data.sources as sources

    seen = []
    original = sources.parse_hub_ref
    monkeypatch.setattr(sources, "parse_hub_ref", lambda value: seen.append(str(value)) or original(value))
    monkeypatch.setattr(sources, "download_dataset", lambda *a, **k: pytest.fail("a local path went to the Hub"))
    for kind in ("native", "unified", "hf"):
        seen.clear()
        assert len(open_input(inputs[kind]).records) == N
        assert seen == [str(inputs[kind])], kind


def test_a_hub_id_is_downloaded_once_and_its_local_files_are_read(data_args, monkeypatch):
    import twgrpo_data.sources as sources

    calls = []
    original = sources.download_dataset
    monkeypatch.setattr(sources, "download_dataset", lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    source = resolve_source(data_args["hub"])
    assert calls == ["me/nextgqa-copy"] and source.path.is_dir() and source.bench is None
    assert open_input(source).records == open_input(source.path).records  # a DataSource is not resolved again
    assert calls == ["me/nextgqa-copy"]


def test_a_benchmark_repository_names_its_benchmark(monkeypatch, tmp_path):
    from fake_hub import benchmark_repos

    hub = serve(benchmark_repos(), monkeypatch, tmp_path)
    try:
        source = resolve_source("lmms-lab/Video-MME")
        assert source == DataSource("lmms-lab/Video-MME", source.path, "videomme")
        assert {r.source for r in open_input(source).records} == {"videomme"}
    finally:
        hub.close()


def test_the_readers_below_the_door_take_local_paths_only(tmp_path, monkeypatch):
    from twgrpo_data.benchmarks import load_benchmark
    from twgrpo_data.errors import InputFormatError
    from twgrpo_data.io.readers import read_interchange

    monkeypatch.chdir(tmp_path)
    for read in (read_interchange, lambda path: load_benchmark("videomme", path)):
        with pytest.raises(InputFormatError, match="lmms-lab/Video-MME: no such file"):
            read("lmms-lab/Video-MME")


def test_native_files_are_accepted_where_they_were_refused(inputs):
    """`data validate`, `data stats` and `publish` refused a native file ("not a records or unified file")."""
    result = run_cli("data", "validate", inputs["native"])
    assert result.code == 0 and f"{N} records, 0 error(s)" in result.stdout
