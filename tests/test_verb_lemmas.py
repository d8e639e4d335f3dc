"""The cached verb table (twgrpo_data.qai.verb_lemmas) answers exactly as lemminflect does, on every word of its
dictionary and on every word of the real questions; a damaged or unwritable cache never changes an answer; and
the pipeline loaded with the empty first tokenizer (twgrpo_data.qai.negate.load_pipeline) has spaCy's own tokenizer."""

from __future__ import annotations

import json
import re

import pytest
from paths import DATA

from twgrpo_data.qai import verb_lemmas


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWGRPO_CACHE", str(tmp_path / "cache"))
    verb_lemmas.table.cache_clear()
    yield tmp_path / "cache"
    verb_lemmas.table.cache_clear()


def _question_words() -> set[str]:
    texts = [item["question"] for item in json.loads((DATA / "nextgqa_val.json").read_text())]
    for path in sorted((DATA / "qai_dev").glob("*.json*")):
        text = path.read_text(encoding="utf-8")
        rows = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl"
            else json.loads(text)
        )
        texts += [row.get("question", "") for row in rows if isinstance(row, dict)]
    return {w for text in texts for w in re.findall(r"[a-z][a-z'-]*", text.lower())}


@pytest.mark.slow
def test_table_answers_as_lemminflect_on_its_dictionary_and_the_real_questions(fresh_cache):
    from lemminflect import Lemmatizer, getAllLemmas, getLemma

    words = _question_words()
    assert len(words) > 3000  # the question files were read
    dictionary = {w for w in Lemmatizer()._getLemmaDict() if w == w.lower()}
    for word in sorted(words | dictionary):
        expected = tuple(getAllLemmas(word, upos="VERB").get("VERB", ()))
        assert verb_lemmas.dictionary_lemmas(word) == expected, word
    for word in sorted(words):
        assert verb_lemmas.verb_lemma(word) == tuple(getLemma(word, upos="VERB")), word
    assert [p.suffix for p in fresh_cache.iterdir()] == [".marshal"]  # written once, atomically (no temporary left)


def test_a_damaged_cache_is_rebuilt_and_answers_stay_right(fresh_cache):
    assert verb_lemmas.verb_lemma("picked") == ("pick",)
    (cached,) = fresh_cache.iterdir()
    cached.write_bytes(b"\x00not marshal")
    verb_lemmas.table.cache_clear()
    assert verb_lemmas.verb_lemma("picked") == ("pick",)
    assert verb_lemmas.dictionary_lemmas("ran") == ("run",)
    assert cached.read_bytes() != b"\x00not marshal"  # replaced by a good table


def test_a_cache_damaged_into_other_lemmas_is_rebuilt(fresh_cache):
    """A flipped byte inside a string still unmarshals, into a wrong lemma: the file's digest catches it."""
    assert verb_lemmas.verb_lemma("picked") == ("pick",)
    (cached,) = fresh_cache.iterdir()
    data = cached.read_bytes()
    entry = data.index(b"\x06picked")  # marshal's short-string record: length byte, then the text
    lemma = data.index(b"pick", entry + 7)
    damaged = data[:lemma] + b"kcip" + data[lemma + 4 :]
    cached.write_bytes(damaged)
    verb_lemmas.table.cache_clear()
    assert verb_lemmas.verb_lemma("picked") == ("pick",)
    assert cached.read_bytes() == data


def test_an_unwritable_cache_folder_still_answers(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TWGRPO_CACHE", str(blocker / "cache"))  # cannot be created
    verb_lemmas.table.cache_clear()
    try:
        assert verb_lemmas.verb_lemma("hugged") == ("hug",)
        assert verb_lemmas.dictionary_lemmas("dishes") == ("dish",)  # "dish" is also a verb
    finally:
        verb_lemmas.table.cache_clear()


def test_out_of_vocabulary_words_use_lemminflect_rules(fresh_cache):
    from lemminflect import getLemma

    assert verb_lemmas.dictionary_lemmas("blorfed") == ()
    assert verb_lemmas.verb_lemma("blorfed") == tuple(getLemma("blorfed", upos="VERB")) == ("blorf",)


@pytest.mark.slow
def test_pipeline_tokenizer_is_the_models_own():
    import spacy

    from twgrpo_data.qai.negate import UNUSED_COMPONENTS, load_pipeline, resolve_model

    fast = load_pipeline()
    standard = spacy.load(resolve_model(), exclude=list(UNUSED_COMPONENTS))
    assert fast.tokenizer.to_bytes() == standard.tokenizer.to_bytes()
    assert fast.pipe_names == standard.pipe_names
    text = "Why didn't the U.S. team's e-mail (sent 5km away at 3:30pm) reach http://x.com :)?"
    assert [(t.text, t.tag_, t.dep_, t.head.i) for t in fast(text)] == [
        (t.text, t.tag_, t.dep_, t.head.i) for t in standard(text)
    ]
