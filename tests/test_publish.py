"""`twgrpo publish`: the Hub layout, the round trip through it, the licence gate, and the push itself —
tested offline against a fake Hub on 127.0.0.1 that records every request."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from cli_helpers import hub_env, run_cli, run_cli_subprocess
from datasets import load_dataset
from fake_hub import FakeHub
from huggingface_hub import DatasetCard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import DATA, FIXTURES
from test_cards import qai_records, report_for

from twgrpo_data.errors import HubError, LicenceError, TwgrpoError
from twgrpo_data.hub import cards
from twgrpo_data.hub.layout import write_hub_folder
from twgrpo_data.hub.publish import publish
from twgrpo_data.io.arrow import from_hf_dataset, hf_features
from twgrpo_data.io.meta_column import meta_struct_feature
from twgrpo_data.io.writers import write_records
from twgrpo_data.outputs import MARKER, read_marker
from twgrpo_data.record import Record
from twgrpo_data.sources import open_input

MIXED = DATA / "nextgqa_val_mixed.official.json"


@pytest.fixture()
def fake_hub(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    server = FakeHub()
    yield server
    server.close()


@pytest.fixture()
def qai_jsonl(tmp_path) -> Path:
    path = tmp_path / "qai.jsonl"
    write_records(qai_records(), path)
    return path


def layout(folder: Path) -> list[str]:
    """The files of a preview folder that a push uploads: all but twgrpo's marker (which lists them)."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert MARKER in files and list(read_marker(folder).files) == [f for f in files if f != MARKER]
    return [f for f in files if f != MARKER]


# ----------------------------------------------------------------------------------------------------------
# the Hub layout


def test_dry_run_writes_exactly_readme_and_parquet_shards(qai_jsonl, tmp_path):
    result = publish(qai_jsonl, "me/nextgqa-qai", dry_run=True, out=tmp_path / "preview")
    assert layout(tmp_path / "preview") == ["README.md", "data/train-00000-of-00001.parquet"]
    assert [p for p, _ in result.files] == ["README.md", "data/train-00000-of-00001.parquet"]
    assert result.push is None and result.template == "nextgqa-qai"


def test_parquet_files_load_back_to_the_same_records(qai_jsonl, tmp_path):
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "preview")
    loaded = load_dataset("parquet", data_files={"train": str(tmp_path / "preview/data/*.parquet")})
    records = open_input(qai_jsonl).raise_or_skip(False).records
    assert loaded["train"].features == hf_features(meta_struct_feature(records))
    # `meta` is a struct the Dataset Viewer can filter on (type, glue), not JSON text
    assert set(loaded["train"].features["meta"]) == {"type", "glue"}
    assert from_hf_dataset(loaded["train"]) == records


def test_folder_loads_like_the_hub_repo_through_its_card_configs(qai_jsonl, tmp_path):
    """`load_dataset(folder)` reads README's `configs`/`dataset_info`, as `load_dataset("me/x")` would."""
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "preview", split="validation")
    loaded = load_dataset(str(tmp_path / "preview"))
    assert list(loaded) == ["validation"]
    assert loaded["validation"].features == hf_features(
        meta_struct_feature(open_input(qai_jsonl).raise_or_skip(False).records)
    )
    card = DatasetCard((tmp_path / "preview/README.md").read_text())
    info = card.data.to_dict()["dataset_info"]
    assert info["splits"] == [{"name": "validation", "num_bytes": loaded["validation"].data.nbytes, "num_examples": 5}]
    assert info["download_size"] == (tmp_path / "preview/data/validation-00000-of-00001.parquet").stat().st_size


def test_official_mixed_file_round_trips_through_the_hub_layout(tmp_path):
    result = publish(MIXED, "me/nextgqa-mixed", dry_run=True, out=tmp_path / "p", split="validation")
    loaded = load_dataset(str(tmp_path / "p"))
    assert from_hf_dataset(loaded["validation"]) == open_input(MIXED).raise_or_skip(False).records
    assert result.splits == {"validation": len(json.loads(MIXED.read_text()))}


def test_small_shard_limit_splits_into_ordered_shards(qai_jsonl, tmp_path):
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "p", max_shard_size=300)
    shards = [p for p in layout(tmp_path / "p") if p.startswith("data/")]
    assert len(shards) > 1
    assert shards == [f"data/train-{i:05d}-of-{len(shards):05d}.parquet" for i in range(len(shards))]
    loaded = load_dataset(str(tmp_path / "p"))["train"]
    assert [r.id for r in from_hf_dataset(loaded)] == [r.id for r in qai_records()]


def test_never_more_shards_than_rows(qai_jsonl, tmp_path):
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "p", max_shard_size=1)
    assert [p for p in layout(tmp_path / "p") if p.startswith("data/")] == [
        f"data/train-{i:05d}-of-00005.parquet" for i in range(5)
    ]


def test_hf_folder_with_two_splits_publishes_both_or_the_named_one(tmp_path):
    from datasets import DatasetDict

    from twgrpo_data.io.arrow import to_hf_dataset

    recs = qai_records()
    DatasetDict({"train": to_hf_dataset(recs[:3]), "test": to_hf_dataset(recs[3:])}).save_to_disk(str(tmp_path / "dd"))
    both = publish(tmp_path / "dd", "me/x", dry_run=True, out=tmp_path / "both")
    assert both.splits == {"train": 3, "test": 2}
    assert {p for p in layout(tmp_path / "both")} == {
        "README.md",
        "data/train-00000-of-00001.parquet",
        "data/test-00000-of-00001.parquet",
    }
    one = publish(tmp_path / "dd", "me/x", dry_run=True, out=tmp_path / "one", split="test")
    assert one.splits == {"test": 2}


record_strategy = st.builds(
    lambda rid, question, options, n_gold, video, meta, negated: Record(
        id=rid,
        question=question,
        options=options,
        answer=[chr(65 + i) for i in range(min(n_gold, len(options)))],
        video=video,
        source="nextgqa",
        meta=meta,
        qai=None
        if negated is None
        else {
            "negated": negated,
            "original_question": question + "?",
            "original_answer": ["A"],
            "removed_options": options[:1],
            "seed": 7,
        },
    ),
    rid=st.text("abc123_", min_size=1, max_size=8),
    question=st.text(min_size=1, max_size=40).filter(str.strip),
    options=st.lists(st.text(max_size=12), min_size=1, max_size=6),
    n_gold=st.integers(1, 6),
    video=st.none() | st.text(max_size=20),
    meta=st.dictionaries(
        st.text(max_size=6),
        st.integers() | st.text(max_size=6) | st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=2),
        max_size=3,
    ),
    negated=st.none() | st.booleans(),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(record_strategy, min_size=1, max_size=6, unique_by=lambda r: r.id))
def test_any_records_survive_record_to_hub_layout_to_record(tmp_path_factory, records):
    out = tmp_path_factory.mktemp("hub")
    folder = write_hub_folder({"train": records}, out / "p", repo_id="me/x", card="generic")
    loaded = load_dataset("parquet", data_files=[str(folder.root / f) for f in folder.files[1:]])["train"]
    assert from_hf_dataset(loaded) == records


@pytest.mark.parametrize(
    "metas",
    [
        [{"n": 1}, {"n": "one"}],  # one key, two types: no struct holds both
        [{"n": 1}, {"n": None}],  # an explicit None would read back as a missing key
        [{}, {}],  # nothing to make a struct of
    ],
)
def test_meta_stays_json_text_when_no_struct_keeps_it_exact(metas, tmp_path):
    records = [
        Record(id=str(i), question="q", options=["a", "b"], answer=["A"], source="nextgqa", meta=m)
        for i, m in enumerate(metas)
    ]
    assert meta_struct_feature(records) is None
    folder = write_hub_folder({"train": records}, tmp_path / "p", repo_id="me/x", card="generic")
    loaded = load_dataset("parquet", data_files=[str(folder.root / f) for f in folder.files[1:]])["train"]
    assert loaded.features["meta"].dtype == "string"
    assert from_hf_dataset(loaded) == records


def test_ints_among_floats_publish_as_a_struct_of_the_same_numbers(tmp_path):
    """NExT-GQA's `glue` holds `29` where other records hold `13.8` (issue 32.6): a struct of floats, read back as
    the same numbers, and the category a column of its own."""
    metas = [{"glue": [[13.8, 29]], "category": "CW"}, {"glue": [[0.5, 1.5]], "category": "TN"}]
    records = [
        Record(id=str(i), question="q", options=["a", "b"], answer=["A"], source="nextgqa", meta=m)
        for i, m in enumerate(metas)
    ]
    folder = write_hub_folder({"train": records}, tmp_path / "p", repo_id="me/x", card="generic")
    loaded = load_dataset("parquet", data_files=[str(folder.root / f) for f in folder.files[1:]])["train"]
    assert loaded.features["meta"]["glue"].feature.feature.dtype == "float64"
    assert loaded["category"] == ["CW", "TN"]
    back = from_hf_dataset(loaded)
    assert back == records and back[0].meta["glue"] == [[13.8, 29.0]]


def test_existing_folder_that_is_not_a_preview_is_never_replaced(qai_jsonl, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(TwgrpoError, match="exists and is not a hub preview folder"):
        publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_second_dry_run_replaces_the_previous_preview(qai_jsonl, tmp_path):
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "p", max_shard_size=300)
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "p")
    assert layout(tmp_path / "p") == ["README.md", "data/train-00000-of-00001.parquet"]


def test_dry_run_without_out_writes_under_hub_preview(qai_jsonl, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = publish(qai_jsonl, "me/nextgqa-qai", dry_run=True)
    assert result.folder == Path("hub_preview/me/nextgqa-qai")
    assert layout(tmp_path / "hub_preview/me/nextgqa-qai")[0] == "README.md"


# ----------------------------------------------------------------------------------------------------------
# licences and repo ids


@pytest.mark.parametrize(
    ("fixture", "source"), [("eval_videomme.json", "videomme"), ("eval_tempcompass.json", "tempcompass")]
)
def test_restricted_sources_are_refused_without_permission(fixture, source, tmp_path):
    path = FIXTURES / "unified" / "evaluation" / fixture
    info = cards.source_table()[source]
    with pytest.raises(LicenceError, match=f"refusing to publish: {info.name}: .*--i-have-permission"):
        publish(path, "me/x", dry_run=True, out=tmp_path / "p")
    assert not (tmp_path / "p").exists()
    allowed = publish(path, "me/x", dry_run=True, out=tmp_path / "p", permission=True)
    assert allowed.warnings == [f"publishing {info.name} data under your permission ({info.license_note})"]


def test_source_without_known_licence_is_published_with_a_warning(tmp_path):
    result = publish(FIXTURES / "unified/evaluation/eval_mmvu.json", "me/x", dry_run=True, out=tmp_path / "p")
    assert result.warnings == [
        "MMVU: licence unknown (not stated in the yale-nlp/MMVU repository); check its terms before publishing"
    ]


def test_licence_is_decided_by_content_not_file_name(tmp_path):
    """Video-MME rows renamed `my_benchmark.json` (no `source`, name guesses nothing) are still Video-MME."""
    renamed = tmp_path / "my_benchmark.json"
    renamed.write_text((FIXTURES / "unified/evaluation/eval_videomme.json").read_text())
    assert {r.source for r in open_input(renamed).raise_or_skip(False).records} == {""}
    with pytest.raises(LicenceError, match="refusing to publish: Video-MME: academic research only"):
        publish(renamed, "me/x", dry_run=True, out=tmp_path / "p")
    publish(renamed, "me/x", dry_run=True, out=tmp_path / "p", permission=True)
    card = DatasetCard((tmp_path / "p/README.md").read_text())
    assert card.data.license == "other"  # the Hub asks for a name and a link with "other"
    assert card.data.license_name == "video-mme-terms"
    assert card.data.license_link == "https://github.com/BradyFU/Video-MME"
    assert card.data.source_datasets == ["lmms-lab/Video-MME"]


def test_data_of_no_known_benchmark_needs_a_stated_licence(tmp_path):
    records = [Record(id=str(i), question="why?", options=["a", "b"], answer=["A"], source="mydata") for i in range(3)]
    write_records(records, tmp_path / "mine.jsonl")
    with pytest.raises(
        LicenceError,
        match=r"records from no benchmark twgrpo knows \(3 with source 'mydata'; "
        r".*--license ID",
    ):
        publish(tmp_path / "mine.jsonl", "me/x", dry_run=True, out=tmp_path / "p")
    result = publish(tmp_path / "mine.jsonl", "me/x", dry_run=True, out=tmp_path / "p", license="cc-by-4.0")
    assert result.warnings == []
    assert DatasetCard((tmp_path / "p/README.md").read_text()).data.license == "cc-by-4.0"


def test_records_with_a_local_absolute_path_are_refused(tmp_path):
    (tmp_path / "videos").mkdir()
    local = Record(
        id="1",
        question="why?",
        options=["a", "b"],
        answer=["A"],
        source="nextgqa",
        video=str(tmp_path / "videos" / "1.mp4"),
    )
    write_records([local], tmp_path / "r.jsonl")
    with pytest.raises(TwgrpoError, match=r"record '1', field 'video': holds a local absolute path"):
        publish(tmp_path / "r.jsonl", "me/x", dry_run=True, out=tmp_path / "p")
    nested = local.replace(video="1.mp4", meta={"paths": {"raw": str(tmp_path / "videos" / "raw.mp4")}})
    write_records([nested], tmp_path / "r.jsonl")
    with pytest.raises(TwgrpoError, match=r"field 'meta': holds a local absolute path"):
        publish(tmp_path / "r.jsonl", "me/x", dry_run=True, out=tmp_path / "p")
    # TW-GRPO's rooted paths ("/MMVU/videos/…") name no folder of this machine
    assert publish(
        FIXTURES / "unified/evaluation/eval_mmvu.json", "me/x", dry_run=True, out=tmp_path / "q", license="cc-by-4.0"
    ).splits == {"train": 3}


@pytest.mark.parametrize("repo_id", ["nextgqa-qai", "me/too/deep", "/name", "me/bad..name", "me/-x"])
def test_repo_id_must_be_owner_slash_name(repo_id, qai_jsonl, tmp_path):
    with pytest.raises(HubError, match="is not OWNER/NAME"):
        publish(qai_jsonl, repo_id, dry_run=True, out=tmp_path / "p")


# ----------------------------------------------------------------------------------------------------------
# the push, against the fake Hub


def test_push_is_one_commit_with_readme_and_shards(qai_jsonl, tmp_path, fake_hub):
    result = publish(qai_jsonl, "me/nextgqa-qai", endpoint=fake_hub.url, token="hf_test", private=True)
    calls = [(m, p) for m, p, _, _ in fake_hub.requests]
    assert calls == [
        ("GET", "/api/datasets/me/nextgqa-qai"),
        ("POST", "/api/repos/create"),
        ("POST", "/api/validate-yaml"),
        ("POST", "/api/datasets/me/nextgqa-qai/preupload/main"),
        ("POST", "/api/datasets/me/nextgqa-qai/commit/main"),
    ]
    assert all(auth == "Bearer hf_test" for _, _, auth, _ in fake_hub.requests)
    create = json.loads(fake_hub.requests[1][3])
    assert create == {"name": "nextgqa-qai", "organization": "me", "visibility": "private", "type": "dataset"}
    (commit,) = fake_hub.commits("me/nextgqa-qai")
    assert commit[0]["key"] == "header"
    assert [(op["key"], op["value"]["path"]) for op in commit[1:]] == [
        ("file", "README.md"),
        ("file", "data/train-00000-of-00001.parquet"),
    ]
    assert result.push.created and result.push.deleted == []
    assert result.push.commit_url.startswith(f"{fake_hub.url}/datasets/me/nextgqa-qai/commit/")


def test_pushed_bytes_are_exactly_the_dry_run_files(qai_jsonl, tmp_path, fake_hub):
    publish(qai_jsonl, "me/x", endpoint=fake_hub.url, token="hf_test")
    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "p")
    uploaded = fake_hub.repos["me/x"]["files"]
    assert sorted(uploaded) == layout(tmp_path / "p")
    assert all(uploaded[name] == (tmp_path / "p" / name).read_bytes() for name in uploaded)


def test_second_push_deletes_stale_shards_in_the_same_commit(qai_jsonl, tmp_path, fake_hub):
    publish(qai_jsonl, "me/x", endpoint=fake_hub.url, token="hf_test", max_shard_size=300)
    first = sorted(fake_hub.repos["me/x"]["files"])
    result = publish(qai_jsonl, "me/x", endpoint=fake_hub.url, token="hf_test")
    assert not result.push.created
    second = fake_hub.commits("me/x")[1]
    deleted = [op["value"]["path"] for op in second if op["key"] == "deletedFile"]
    assert deleted == [p for p in first if p.startswith("data/")] == result.push.deleted
    assert sorted(fake_hub.repos["me/x"]["files"]) == ["README.md", "data/train-00000-of-00001.parquet"]
    assert ("GET", "/api/datasets/me/x/tree/main") in [(m, p) for m, p, _, _ in fake_hub.requests]


def test_private_push_to_an_existing_public_repo_is_refused(qai_jsonl, fake_hub):
    publish(qai_jsonl, "me/x", endpoint=fake_hub.url, token="hf_test")
    with pytest.raises(HubError, match="me/x exists and is public; --private does not change"):
        publish(qai_jsonl, "me/x", endpoint=fake_hub.url, token="hf_test", private=True)
    assert len(fake_hub.commits("me/x")) == 1


def test_rejected_commit_leaves_nothing_committed(qai_jsonl, fake_hub):
    fake_hub.fail_commit = 403
    with pytest.raises(
        HubError,
        match=r"^me/x: could not commit: the token has no write access to this "
        r"repository \(HTTP 403\); nothing was committed \(the repository was "
        r"created empty\)$",
    ):
        publish(qai_jsonl, "me/x", endpoint=fake_hub.url, token="hf_test")
    assert fake_hub.repos["me/x"]["files"] == {}


def test_unreachable_hub_is_one_line(qai_jsonl, fake_hub):
    url = fake_hub.url
    fake_hub.close()  # nothing listens on the port any more
    with pytest.raises(HubError, match=r"^me/x: could not reach http://127.0.0.1:\d+: .*nothing was uploaded$"):
        publish(qai_jsonl, "me/x", endpoint=url, token="hf_test")


def test_offline_mode_refuses_to_push(qai_jsonl, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set"):
        publish(qai_jsonl, "me/x", token="hf_test")


# ----------------------------------------------------------------------------------------------------------
# the command line


def test_cli_push_reads_endpoint_and_token_from_the_environment(qai_jsonl, tmp_path, fake_hub):
    report = report_for(qai_records(), tmp_path)
    proc = run_cli_subprocess(
        *["publish", qai_jsonl, "--repo-id", "me/nextgqa-qai", "--report", report, "--json"],
        env=hub_env(tmp_path, HF_ENDPOINT=fake_hub.url, HF_TOKEN="hf_env"),
        inherit_env=False,
        timeout=120,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["commit_url"].startswith(f"{fake_hub.url}/datasets/me/nextgqa-qai/commit/")
    assert [f["path"] for f in out["files"]] == ["README.md", "data/train-00000-of-00001.parquet"]
    assert {auth for _, _, auth, _ in fake_hub.requests} == {"Bearer hf_env"}
    card = fake_hub.repos["me/nextgqa-qai"]["files"]["README.md"].decode()
    assert "spaCy model: `en_core_web_sm` 3.8.0" in card
    # issue 18.5: no token in any output or uploaded file, no local absolute path in the card or the records
    uploaded = b"".join(fake_hub.repos["me/nextgqa-qai"]["files"].values())
    assert "hf_env" not in proc.stdout + proc.stderr and b"hf_env" not in uploaded
    assert str(tmp_path).encode() not in uploaded


def test_cli_without_token_fails_with_one_line(qai_jsonl, tmp_path, fake_hub):
    proc = run_cli_subprocess(
        "publish", qai_jsonl, "--repo-id", "me/x", env=hub_env(tmp_path, HF_ENDPOINT=fake_hub.url), inherit_env=False
    )
    assert proc.code == 1
    assert proc.stderr.strip() == (
        "error: no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded"
    )
    assert fake_hub.requests == []


def test_cli_dry_run_prints_the_tree(qai_jsonl, tmp_path):
    proc = run_cli_subprocess(
        *["publish", qai_jsonl, "--repo-id", "me/nextgqa-qai", "--dry-run"],
        cwd=tmp_path,
        env=hub_env(tmp_path),
        inherit_env=False,
        timeout=120,
        check=True,
    )
    assert "hub_preview/me/nextgqa-qai/" in proc.stdout
    assert "README.md" in proc.stdout and "train-00000-of-00001.parquet" in proc.stdout
    assert layout(tmp_path / "hub_preview/me/nextgqa-qai") == ["README.md", "data/train-00000-of-00001.parquet"]


def test_cli_dry_run_hint_repeats_every_flag_the_push_needs(tmp_path):
    data = FIXTURES / "unified/evaluation/eval_tempcompass.json"
    result = run_cli(
        *["publish", data, "--repo-id", "me/tc", "--split", "test", "--i-have-permission", "--dry-run"],
        *["--out", tmp_path / "p"],
        check=True,
    )
    out = " ".join(result.stdout.split())
    assert (
        f"nothing uploaded; to publish: twgrpo publish {data} --repo-id me/tc --split test --i-have-permission"
    ) in out


def test_cli_bad_repo_id_exits_1_with_one_line(qai_jsonl, tmp_path):
    result = run_cli("publish", qai_jsonl, "--repo-id", "nextgqa-qai", "--dry-run", "--out", tmp_path / "p")
    assert result.code == 1
    err = result.stderr.strip()
    assert err.startswith("error: repo id 'nextgqa-qai' is not OWNER/NAME") and "\n" not in err


@pytest.mark.slow
def test_acceptance_qai_convert_then_publish_dry_run(tmp_path):
    """The README's two commands: real QAI on NExT-GQA val, then a dry run with the report."""
    env = hub_env(tmp_path)
    run_cli_subprocess(
        *["qai", "convert", DATA / "nextgqa_val.json", "-o", "qai.jsonl", "--report", "qai_report.json"],
        cwd=tmp_path,
        env=env,
        inherit_env=False,
        timeout=300,
        check=True,
    )
    run_cli_subprocess(
        *["publish", "qai.jsonl", "--repo-id", "me/nextgqa-qai", "--report", "qai_report.json", "--dry-run"],
        *["--out", "hub_preview"],
        cwd=tmp_path,
        env=env,
        inherit_env=False,
        timeout=300,
        check=True,
    )
    records = open_input(tmp_path / "qai.jsonl").raise_or_skip(False).records
    report = json.loads((tmp_path / "qai_report.json").read_text())
    card = DatasetCard((tmp_path / "hub_preview/README.md").read_text())
    negated = sum(1 for r in records if r.qai and r.qai["negated"])
    assert negated == report["counts"]["negated"] > 0
    assert f"Negated questions: **{negated}** of {len(records)}" in card.text
    assert f"spaCy model: `{report['spacy_model']}` {report['spacy_model_version']}" in card.text
    for reason, n in report["unnegatable_reasons"].items():
        assert f"| {reason.replace('_', ' ')} | {n} |" in card.text
    loaded = load_dataset("parquet", data_files=str(tmp_path / "hub_preview/data/*.parquet"))["train"]
    assert from_hf_dataset(loaded) == records


def test_publish_shows_each_slow_step(qai_jsonl, tmp_path):
    steps: list[str] = []

    def status(message: str):
        steps.append(message)
        return contextlib.nullcontext()

    publish(qai_jsonl, "me/x", dry_run=True, out=tmp_path / "p", status=status)
    assert [s.split()[0] for s in steps] == ["reading", "checking", "building", "writing", "rendering"]
    assert str(qai_jsonl) in steps[0]
