"""Evaluation prompts: the names `twgrpo_eval` code and users import, from their one home
`twgrpo_data.prompts` (shared with training, issue 13.3)."""

from twgrpo_data.prompts import (
    CLEVRER_SYSTEM,
    CLEVRER_TEMPLATE,
    COT_TEMPLATE,
    HF_VIDEO_PART,
    MULTIPLE_CHOICE_SUFFIX,
    PROMPT_STYLES,
    ZEROSHOT_TEMPLATE,
    Prompt,
    SourceText,
    build_prompt,
    clevrer_question,
    default_parser,
    general_question,
    resolve_style,
    short_hash,
    template_of,
)

__all__ = [
    "CLEVRER_SYSTEM",
    "CLEVRER_TEMPLATE",
    "COT_TEMPLATE",
    "HF_VIDEO_PART",
    "MULTIPLE_CHOICE_SUFFIX",
    "PROMPT_STYLES",
    "ZEROSHOT_TEMPLATE",
    "Prompt",
    "SourceText",
    "build_prompt",
    "clevrer_question",
    "default_parser",
    "general_question",
    "resolve_style",
    "short_hash",
    "template_of",
]
