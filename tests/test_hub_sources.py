"""Hub-native data (issue 15): benchmarks and datasets downloaded with huggingface_hub from a fake Hub on
127.0.0.1 that serves fixture-sized copies of each benchmark's repository in its real layout."""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest
from cli_helpers import hub_env, run_cli, run_cli_subprocess
from fake_hub import GATED_TOKEN, MMVU_EXTRA, benchmark_repos, serve, zipped
from paths import FIXTURES

from twgrpo_data.benchmarks import detect_benchmark, load_benchmark
from twgrpo_data.errors import HubError
from twgrpo_data.hub import archives, benchmark_data
from twgrpo_data.hub.benchmark_data import resolve_benchmark_data
from twgrpo_data.hub.download import HubRef, human_size, parse_hub_ref
from twgrpo_data.io.writers import write_records
from twgrpo_data.sources import open_input, resolve_source


@pytest.fixture()
def hub(monkeypatch, tmp_path):
    """The fake Hub with every benchmark repository, huggingface_hub pointed at it with an empty cache."""
    server = serve(benchmark_repos(), monkeypatch, tmp_path)
    yield server
    server.close()


def offline(monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


# ----------------------------------------------------------------------------------------------------------
# references


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("lmms-lab/Video-MME", HubRef("lmms-lab/Video-MME")),
        ("hf://datasets/lmms-lab/Video-MME", HubRef("lmms-lab/Video-MME")),
        ("hf:/datasets/me/x/data/train.parquet", HubRef("me/x", "data/train.parquet")),  # as pathlib writes it
        ("hf://datasets/me/x@v1.0/a.json", HubRef("me/x", "a.json", "v1.0")),
        ("MMVU/validation.json", None),
        ("runs/out", HubRef("runs/out")),
        ("./me/x", None),
        ("file.json", None),
    ],
)
def test_hub_references_are_recognised(text, ref):
    assert parse_hub_ref(text) == ref


def test_an_existing_local_path_wins_over_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "me" / "x").mkdir(parents=True)
    assert parse_hub_ref("me/x") is None


# ----------------------------------------------------------------------------------------------------------
# fetching


def test_annotations_come_from_the_cache_when_offline(hub, monkeypatch):
    path = benchmark_data.fetch_annotations("mmvu")
    assert path.name == "validation.json" and "datasets--yale-nlp--MMVU" in str(path)
    assert hub.downloads("yale-nlp/MMVU") == ["validation.json"]
    offline(monkeypatch)
    hub.requests.clear()
    assert benchmark_data.fetch_annotations("mmvu") == path
    assert hub.requests == []


def test_offline_without_a_cache_is_one_line(hub, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(HubError, match=r"^yale-nlp/MMVU: not \(completely\) in the cache and HF_HUB_OFFLINE is set"):
        benchmark_data.fetch_annotations("mmvu")


def test_limit_downloads_only_the_selected_records_videos(hub):
    data = resolve_benchmark_data("mmvu", limit=4)
    records = load_benchmark("mmvu", data.records_path).records
    assert len(records) == 2 + MMVU_EXTRA  # more than the limit
    wanted = sorted(r.video for r in records[:4])
    asked = sorted({f for f in hub.downloads("yale-nlp/MMVU", ("GET", "HEAD")) if f.startswith("videos/")})
    assert asked == wanted
    assert all((data.video_root / v).is_file() for v in wanted)
    assert not (data.video_root / records[-1].video).exists()
    assert data.provenance == {
        "kind": "hub",
        "repo_id": "yale-nlp/MMVU",
        "revision": "main",
        "commit": data.records_path.parent.name,
        "path": "validation.json",
        "videos": 4,
    }


def test_gated_repo_names_the_repo_and_what_to_do(hub, monkeypatch):
    with pytest.raises(
        HubError,
        match=r"^OpenGVLab/MVBench is gated: accept its terms at http://127\.0\.0\.1:\d+/"
        r"datasets/OpenGVLab/MVBench while logged in, then set HF_TOKEN",
    ):
        resolve_benchmark_data("mvbench", limit=2)
    monkeypatch.setenv("HF_TOKEN", GATED_TOKEN)
    data = resolve_benchmark_data("mvbench", limit=2)
    first = load_benchmark("mvbench", data.records_path).records[:2]
    # one zip per source folder: only the archives that hold the two selected videos
    assert sorted(
        set(hub.downloads("OpenGVLab/MVBench"))
        - {f for f in hub.downloads("OpenGVLab/MVBench") if f.startswith("json/")}
    ) == sorted({f"video/{r.video.split('/')[0]}.zip" for r in first})
    assert all((data.video_root / r.video).is_file() for r in first)


def test_an_interrupted_download_resumes_where_it_stopped(hub, monkeypatch):
    from huggingface_hub import constants

    # huggingface_hub keeps what it wrote in whole chunks (10 MB); smaller chunks let a fixture video span several
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16384)
    video = "videos/Thermodynamics/0.mp4"
    hub.cut_after[video] = 65536
    data = resolve_benchmark_data("mmvu", limit=1)
    assert (data.video_root / video).read_bytes() == benchmark_repos()["yale-nlp/MMVU"]["files"][video]
    ((name, ranged),) = hub.ranges
    assert name == video and ranged.startswith("bytes=") and 0 < int(ranged[6:].rstrip("-")) <= 65536


def test_video_archives_are_unpacked_once_and_reused_offline(hub, monkeypatch):
    data = resolve_benchmark_data("videomme")
    records = load_benchmark("videomme", data.records_path).records
    assert all((data.video_root / r.video).is_file() for r in records)
    assert sorted(hub.downloads("lmms-lab/Video-MME")) == [
        "videomme/test-00000-of-00001.parquet",
        "videos_chunked_01.zip",
        "videos_chunked_02.zip",
    ]
    assert str(data.video_root).startswith(str(Path(archives.unpack_root("lmms-lab/Video-MME", "x")).parent))
    offline(monkeypatch)
    hub.requests.clear()
    again = resolve_benchmark_data("videomme")
    assert again.video_root == data.video_root and hub.requests == []


@pytest.mark.parametrize("name", ["mvbench", "tempcompass", "videomme", "mmvu", "nextqa"])
def test_every_hub_layout_gives_records_whose_videos_are_found(hub, monkeypatch, name):
    from twgrpo_data.benchmarks import locate_video

    monkeypatch.setenv("HF_TOKEN", GATED_TOKEN)  # MVBench is gated
    data = resolve_benchmark_data(name, limit=2)
    records = load_benchmark(name, data.records_path).records[:2]
    assert records and all(os.path.isfile(locate_video(r, data.video_root).path) for r in records)


def test_a_benchmark_not_on_the_hub_says_where_to_get_it(hub):
    with pytest.raises(
        Exception,
        match="clevrer is not distributed on the Hugging Face Hub; download it from http://clevrer.csail.mit.edu/",
    ):
        resolve_benchmark_data("clevrer")


# ----------------------------------------------------------------------------------------------------------
# archives from the internet stay in their folder


def _link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../escape.mp4", "has a '..' component"),
        ("data/../../escape.mp4", "has a '..' component"),
        ("{tmp}/absolute.mp4", "is an absolute path"),  # an absolute path into this test's own folder
        ("link.mp4", "is a symbolic link"),
        ("C:/windows.mp4", "is an absolute path"),
    ],
)
def test_crafted_zip_from_the_hub_is_refused_and_writes_nothing(hub, tmp_path, member, reason):
    import io

    from huggingface_hub import constants, hf_hub_download

    member = member.format(tmp=tmp_path.as_posix())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data/ok.mp4", b"fine")
        if member == "link.mp4":
            zf.writestr(*_link(member, "/etc/passwd"))
        else:
            zf.writestr(member, b"evil")
    hub.repos["evil/videos"] = {"files": {"videos.zip": buf.getvalue()}}
    local = Path(
        hf_hub_download(
            "evil/videos", "videos.zip", repo_type="dataset", endpoint=hub.url, cache_dir=constants.HF_HUB_CACHE
        )
    )
    dest = archives.unpack_root("evil/videos", "c0ffee")
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(HubError, match=re.escape(f"videos.zip: member {member!r} {reason}; refusing to unpack")):
        archives.unpack_archive(local, dest, name="videos.zip")
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written, inside or outside
    assert not (tmp_path / "escape.mp4").exists() and not (tmp_path / "absolute.mp4").exists()


def test_good_zip_unpacks_into_its_folder_once(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(zipped({"data/x.mp4": b"x", "data/sub/y.mp4": b"y"}))
    dest = tmp_path / "dest"
    assert archives.unpack_archive(archive, dest) == 2
    assert (dest / "data/sub/y.mp4").read_bytes() == b"y"
    assert archives.unpack_archive(archive, dest) == 0  # marker: unpacked once


# ----------------------------------------------------------------------------------------------------------
# every data path takes a Hub reference or a save_to_disk folder


def test_a_benchmark_from_a_hub_id_reads_only_annotations(hub):
    result = open_input("hf://datasets/lmms-lab/Video-MME", bench="videomme")
    expected = load_benchmark("videomme", FIXTURES / "videomme")
    assert [r.id for r in result.records] == [r.id for r in expected.records]
    assert [r.meta["category"] for r in result.records] == [r.meta["category"] for r in expected.records]
    assert hub.downloads("lmms-lab/Video-MME") == ["videomme/test-00000-of-00001.parquet"]


def test_save_to_disk_copy_of_lmms_lab_videomme_loads(tmp_path):
    from datasets import Dataset

    rows = json.loads((FIXTURES / "videomme" / "videomme_rows.json").read_text())
    Dataset.from_list([{**r, "language": "en"} for r in rows]).save_to_disk(str(tmp_path / "vm"))
    assert detect_benchmark(tmp_path / "vm") == "videomme"
    result = load_benchmark("videomme", tmp_path / "vm")
    assert len(result.records) == len(rows) and not result.errors
    assert {r.meta["domain"] for r in result.records} == {r["domain"] for r in rows}
    assert all(r.meta["language"] == "en" for r in result.records)  # a column the loader does not know: kept


def test_record_tables_with_extra_columns_keep_them_in_meta(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.jsonl"
    write_records(load_benchmark("mmvu", FIXTURES / "mmvu").records, path)
    rows = [
        {**r.to_dict(), "meta": json.dumps(r.meta), "domain": "Science"}
        for r in open_input(path).raise_or_skip(False).records
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "x.parquet")
    records = open_input(tmp_path / "x.parquet").raise_or_skip(False).records
    assert all(r.meta["domain"] == "Science" for r in records)


def test_generic_hub_dataset_resolves_to_its_records_file(hub):
    hub.repos["me/plain"] = {"files": {"train.jsonl": (FIXTURES / "../../data/eval_mmvu.json").read_bytes()}}
    path = resolve_source("hf://datasets/me/plain/train.jsonl").path
    assert path.name == "train.jsonl" and path.is_file()


def test_publish_then_load_back_from_the_hub_is_the_same_records(hub, tmp_path):
    from twgrpo_data.hub import publish as publishing

    records = load_benchmark("mmvu", FIXTURES / "mmvu").records
    write_records(records, tmp_path / "mmvu.jsonl")
    publishing.publish(tmp_path / "mmvu.jsonl", "me/mmvu-copy", endpoint=hub.url, token="hf_test", split="validation")
    assert open_input("hf://datasets/me/mmvu-copy").raise_or_skip(False).records == records
    assert open_input("me/mmvu-copy", split="validation").raise_or_skip(False).records == records


# ----------------------------------------------------------------------------------------------------------
# the command line


def test_cli_fetch_says_how_much_before_downloading(hub, tmp_path):
    captured = run_cli("data", "fetch", "--bench", "mmvu", "--videos", "--json", check=True)
    out = json.loads(captured.stdout)
    assert out["repo_id"] == "yale-nlp/MMVU" and out["videos"] == 2 + MMVU_EXTRA
    videos = {k: v for k, v in benchmark_repos()["yale-nlp/MMVU"]["files"].items() if k.startswith("videos/")}
    size = human_size(sum(len(v) for v in videos.values()))
    assert f"yale-nlp/MMVU: downloading {len(videos)} video file(s), {size}" in captured.stderr
    assert Path(out["video_root"], "videos/Physics/0.mp4").is_file()


@pytest.mark.slow
def test_cli_data_load_from_hf_id_acceptance(hub, tmp_path):
    """`twgrpo data load --bench videomme hf://datasets/lmms-lab/Video-MME -o vm.jsonl` (issue 15)."""
    run_cli_subprocess(
        *["data", "load", "--bench", "videomme", "hf://datasets/lmms-lab/Video-MME", "-o", "vm.jsonl"],
        cwd=tmp_path,
        timeout=300,
        env=hub_env(tmp_path, HF_ENDPOINT=hub.url),
        inherit_env=False,
        check=True,
    )
    got = open_input(tmp_path / "vm.jsonl").raise_or_skip(False).records
    expected = load_benchmark("videomme", FIXTURES / "videomme").records
    assert [(r.id, r.meta["category"]) for r in got] == [(r.id, r.meta["category"]) for r in expected]


@pytest.mark.slow
def test_eval_bench_without_data_fetches_then_runs_offline(hub, tmp_path, tiny_model_dir):
    """Issue 15 acceptance: `twgrpo eval --bench mmvu --model T --backend transformers --limit 4
    --max-new-tokens 8` with an empty cache, then the same with HF_HUB_OFFLINE=1 from the cache."""
    base = [
        "eval",
        "--bench",
        "mmvu",
        "--model",
        str(tiny_model_dir),
        "--backend",
        "transformers",
        "--limit",
        "4",
        "--max-new-tokens",
        "8",
        "--no-progress",
    ]
    run_cli_subprocess(
        *base, "--out", "run1", cwd=tmp_path, env=hub_env(tmp_path, HF_ENDPOINT=hub.url), inherit_env=False, check=True
    )
    config = json.loads((tmp_path / "run1" / "config.json").read_text())
    assert config["data_source"]["kind"] == "hub" and config["data_source"]["repo_id"] == "yale-nlp/MMVU"
    assert config["data_source"]["videos"] == 4
    samples = [json.loads(line) for line in (tmp_path / "run1" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and all(s["error"] is None for s in samples)
    assert len({f for f in hub.downloads("yale-nlp/MMVU") if f.startswith("videos/")}) <= 4
    hub.requests.clear()
    offline_env = hub_env(tmp_path, HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="1")
    run_cli_subprocess(*base, "--out", "run2", cwd=tmp_path, env=offline_env, inherit_env=False, check=True)
    assert hub.requests == []
    offline_samples = (tmp_path / "run2" / "samples.jsonl").read_text().splitlines()
    assert len(offline_samples) == 4 and all(json.loads(s)["error"] is None for s in offline_samples)


def test_fetch_split_names_the_missing_file(hub):
    with pytest.raises(HubError, match=r"^yale-nlp/MMVU: no test\.json in the repository"):
        benchmark_data.fetch_annotations("mmvu", split="test")  # MMVU's test answers are hidden
