"""Verb lemmas from lemminflect, answered from a table cached on disk.

Negation needs a verb's base form ("picked" → "pick") and whether a word is a known verb. lemminflect answers
both from a 70,000-word dictionary that it parses from CSV on first use — about half a second, paid by every
`qai negate` process before its first answer. The verb entries of that dictionary (27,000 words) are kept here as
a marshal file that loads in ~10 ms. The table holds lemminflect's own answers (`getAllLemmas(word, "VERB")` for
every word of its dictionary and overrides), so looking a word up here is the same as asking lemminflect; a word
not in the table is one lemminflect has no dictionary lemma for, and `verb_lemma` then asks lemminflect's
out-of-vocabulary rules, as `getLemma` does.

The cache lives in `$TWGRPO_CACHE`, else `$XDG_CACHE_HOME/twgrpo`, else `~/.cache/twgrpo`; its name carries
the size and time of lemminflect's code and dictionary files, so an upgrade builds a new table. The file starts
with an HMAC-SHA-256 of the table keyed to the installed versions (lemminflect's code and dictionary files,
Python's marshal format, this table's layout): a damaged file (which marshal may still read, with wrong lemmas) and a file made
by another installation are rebuilt, and a file that is not the user's own, or that others may write, is never
unmarshalled (marshal is not safe against crafted data). When the folder cannot be written the table is built in
memory for the process.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import marshal
import os
import stat
import sys
from pathlib import Path

from ..errors import OutputWriteError
from ..outputs import atomic_path

_FORMAT = 4  # bump when the file's layout changes (4: the header is an HMAC keyed to the installed versions)
_DIGEST = 32  # bytes of HMAC-SHA-256 before the marshal data
_SEP = "|"  # between the lemmas of a word: plain strings load without waking the garbage collector


def cache_dir() -> Path:
    """Where twgrpo keeps derived data that is cheaper to load than to rebuild."""
    if os.environ.get("TWGRPO_CACHE"):
        return Path(os.environ["TWGRPO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "twgrpo"


def _resource_stamp() -> str:
    """Size and mtime of lemminflect's code and of the dictionary files the table is built from (found without
    importing lemminflect, which is only needed to build the table)."""
    import importlib.util

    spec = importlib.util.find_spec("lemminflect")
    if spec is None or spec.origin is None:
        raise ImportError("lemminflect is not installed: pip install lemminflect")
    package = Path(spec.origin).parent
    parts = []
    for path in (
        package / "__init__.py",
        package / "resources" / "lemma_lu.csv.gz",
        package / "resources" / "lemma_overrides.csv",
    ):
        st = path.stat()
        parts.append(f"{st.st_size}-{st.st_mtime_ns}")
    return "_".join(parts)


def _key(stamp: str) -> bytes:
    """The HMAC key of a table: everything its bytes depend on, as installed now — this layout, Python's marshal
    format and lemminflect's code and dictionary files (`stamp`; reading its version from its metadata would cost
    more than loading the table)."""
    parts = (_FORMAT, marshal.version, sys.implementation.cache_tag, stamp)
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def _trusted_file(path: Path) -> bool:
    """Whether `path` is a regular file of this user that no one else may write (else it is never unmarshalled)."""
    st = path.lstat()
    own = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISREG(st.st_mode) and own and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def build_table() -> dict[str, str]:
    """Every word lemminflect has a dictionary verb lemma for → those lemmas, as lemminflect returns them
    (joined by `_SEP`)."""
    from lemminflect import Lemmatizer, getAllLemmas

    lemmatizer = Lemmatizer()
    # The dictionaries are read only to list the candidate words; the answers come from the public call.
    # Only lower-case words: lemminflect lower-cases a word before its lookup, and negation asks in lower case.
    words = {w for w in (*lemmatizer._getLemmaDict(), *lemmatizer._getOverridesDict()) if w == w.lower()}
    table = {}
    for word in words:
        lemmas = getAllLemmas(word, upos="VERB").get("VERB")
        if lemmas:
            table[word] = _SEP.join(lemmas)
    return table


def build_words() -> list[str]:
    """Every lower-case word of lemminflect's dictionary, of any part of speech (nouns, adjectives, verbs …):
    the words whose spelling is known, for telling a misspelling ("bycicle") from another word ("women")."""
    from lemminflect import Lemmatizer

    lemmatizer = Lemmatizer()
    return sorted({w for w in (*lemmatizer._getLemmaDict(), *lemmatizer._getOverridesDict()) if w == w.lower()})


@functools.cache
def table() -> dict[str, str]:
    """The verb table: read from the cache, or built from lemminflect and cached."""
    return _cached("lemminflect_verbs", build_table, dict)


@functools.cache
def known_words() -> frozenset[str]:
    """lemminflect's dictionary words (`build_words`), cached on disk like the verb table."""
    return frozenset(_cached("lemminflect_words", build_words, list))


def _cached(name: str, build, kind: type):
    """The `build()` result kept in the cache folder under `name`, read back only from a file of this user that
    no one else may write and whose HMAC (keyed to the installed versions: `_key`) holds; rebuilt when missing,
    damaged, foreign or made from another lemminflect."""
    stamp = _resource_stamp()
    path = cache_dir() / f"{name}_v{_FORMAT}_{stamp}.marshal"
    key = _key(stamp)
    try:
        if _trusted_file(path):
            data = path.read_bytes()
            body = data[_DIGEST:]
            if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), data[:_DIGEST]):
                loaded = marshal.loads(body)
                if isinstance(loaded, kind) and loaded:
                    return loaded
    except (OSError, EOFError, ValueError, TypeError):
        pass  # no cache yet: build it
    built = build()  # also when the file was damaged, foreign or not the user's own
    try:
        body = marshal.dumps(built)
        with atomic_path(path) as tmp:
            tmp.write_bytes(hmac.new(key, body, hashlib.sha256).digest() + body)
        for stale in path.parent.glob(f"{name}_*.marshal"):  # tables of an earlier lemminflect
            if stale != path:
                stale.unlink(missing_ok=True)
    except (OSError, OutputWriteError):
        pass  # a read-only home: the table still serves this process
    return built


def dictionary_lemmas(word: str) -> tuple[str, ...]:
    """lemminflect's dictionary verb lemmas of lower-case `word` (`getAllLemmas(word, "VERB")`), or ()."""
    found = table().get(word)
    return tuple(found.split(_SEP)) if found else ()


def verb_lemma(word: str) -> tuple[str, ...]:
    """The verb lemmas of lower-case `word` as lemminflect's `getLemma(word, "VERB")` gives them: the
    dictionary's, else its out-of-vocabulary rules'."""
    found = dictionary_lemmas(word)
    if found:
        return found
    from lemminflect import getAllLemmasOOV

    return tuple(getAllLemmasOOV(word, upos="VERB").get("VERB", ()))
