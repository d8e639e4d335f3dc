"""When the cyclic garbage collector runs: paused while datasets are built, resumed for code that switches it
on by itself (spaCy's loader), and the CLI's freezing of what a command loaded, undone when it ends."""

from __future__ import annotations

import gc
import weakref

import pytest
from cli_helpers import REPO, run_cli

from twgrpo_data.garbage_collection import gc_frozen_results, gc_paused, gc_resumed


class _Node:
    """A weak-referenceable object that can sit in a reference cycle."""

    def __init__(self):
        self.me = self


@pytest.fixture(autouse=True)
def _collector_on():
    assert gc.isenabled() and gc.get_freeze_count() == 0
    yield
    gc.enable()
    gc.unfreeze()


def _dropped_cycle() -> weakref.ref:
    node = _Node()
    ref = weakref.ref(node)
    del node
    return ref  # alive until a collection that walks it


def test_paused_block_restores_the_collector_and_nested_blocks_leave_it_off():
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block did not switch it back on
    assert gc.isenabled() and gc.get_freeze_count() == 0  # no freezing outside `gc_frozen_results`


def test_srsly_switches_the_collector_on_inside_a_paused_block_and_gc_resumed_pauses_it_again():
    import srsly

    data = srsly.msgpack_dumps({"a": [1, 2]})
    with gc_paused():
        srsly.msgpack_loads(data)
        assert gc.isenabled()  # why `gc_resumed` exists: srsly's loader ends with gc.enable()
    with gc_paused():
        with gc_resumed():
            assert gc.isenabled()
            srsly.msgpack_loads(data)
        assert not gc.isenabled()
    assert gc.isenabled()


def test_gc_resumed_leaves_a_collector_the_caller_switched_off_alone():
    gc.disable()
    with gc_paused(), gc_resumed():
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()
    with gc_resumed():  # outside a paused block: nothing to do
        assert gc.isenabled()
    assert gc.isenabled()


def test_frozen_results_keep_a_cycle_until_the_block_ends_then_collect_it():
    with gc_frozen_results():
        ref = _dropped_cycle()
        with gc_paused():
            pass
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert ref() is not None  # frozen: the collector does not walk it
        with gc_frozen_results():  # nested (a command run from a command): the outer block owns the freeze
            pass
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None


def test_a_cycle_outside_frozen_results_is_collected_as_usual():
    ref = _dropped_cycle()
    with gc_paused():
        pass
    gc.collect()
    assert ref() is None


def test_the_pipeline_loader_leaves_a_paused_collector_paused():
    from twgrpo_data.qai.negate import load_pipeline

    load_pipeline.cache_clear()
    try:
        with gc_paused():
            nlp = load_pipeline()
            assert not gc.isenabled()
        assert nlp("who picked up the ball")[1].tag_ == "VBD"
    finally:
        load_pipeline.cache_clear()


def test_a_cli_command_unfreezes_and_resumes_the_collector_when_it_ends(tmp_path):
    data = tmp_path / "r.jsonl"
    data.write_text('{"id": "a", "question": "what is it", "options": ["x", "y"], "answer": ["A"]}\n')
    ok = run_cli("data", "validate", str(data))
    bad = run_cli("data", "validate", str(tmp_path / "missing.jsonl"))
    assert ok.code == 0 and bad.code == 1
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_library_functions_leave_the_collector_as_their_caller_set_it(tmp_path, monkeypatch):
    """Only a command switches the collector: a program calling the readers, writers and QAI keeps its own."""
    from twgrpo_data.benchmarks import load_benchmark
    from twgrpo_data.io.arrow import hub_tables, table_to_records, to_hf_dataset
    from twgrpo_data.io.writers import write_records
    from twgrpo_data.qai.invert import convert
    from twgrpo_data.sources import open_input

    switched = []
    monkeypatch.setattr(gc, "disable", lambda: switched.append("disable"))
    records = open_input(REPO / "examples" / "nextgqa_val_sample.json").records
    load_benchmark("nextgqa", REPO / "examples" / "nextgqa_val_sample.json")
    for name in ("r.json", "r.jsonl", "r.parquet", "hf"):
        write_records(records, tmp_path / name)
        assert open_input(tmp_path / name).records == records
    tables, _ = hub_tables({"train": records})
    assert table_to_records(tables["train"]) == records and len(to_hf_dataset(records)) == len(records)
    convert(records, ratio=0.0)
    assert switched == [] and gc.isenabled()


def test_a_dataset_command_runs_with_the_collector_paused_and_ends_with_it_on(monkeypatch):
    import twgrpo_cli.data as data_cli

    seen = []
    original = data_cli.open_input
    monkeypatch.setattr(data_cli, "open_input", lambda *a, **k: seen.append(gc.isenabled()) or original(*a, **k))
    assert run_cli("data", "stats", REPO / "examples" / "nextgqa_val_sample.json").code == 0
    assert seen == [False] and gc.isenabled() and gc.get_freeze_count() == 0
