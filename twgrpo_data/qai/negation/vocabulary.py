"""The words and patterns the negation rules read: auxiliaries and their contractions, wh- and negative words,
the tags and dependencies of a question's parts, and the word patterns of the refusals that need no parse."""

from __future__ import annotations

import re

BE = {"am", "is", "are", "was", "were"}
DO = {"do", "does", "did"}
HAVE = {"has", "have", "had"}
MODALS = {"can", "could", "will", "would", "should", "must", "may", "might", "shall"}
AUX_WORDS = BE | DO | HAVE | MODALS
# "mayn't", "mightn't", "amn't", "shan't" are archaic or not English: these take a separate "not".
CONTRACTED = {w: w + "n't" for w in AUX_WORDS - {"am", "may", "might", "shall", "can", "will"}}
CONTRACTED.update({"can": "can't", "will": "won't"})
CLITICS = {"'re": "are", "'m": "am", "'ve": "have", "'ll": "will"}  # "'s" and "'d" depend on the tag
DO_FOR_TAG = {"VBD": "did", "VBZ": "does", "VBP": "do"}
FINITE_TAGS = {"VBD", "VBZ", "VBP", "MD"}
VERB_TAGS = {"VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD"}

WH_WORDS = {"what", "why", "where", "when", "who", "whom", "whose", "which", "how"}
NEG_WORDS = {
    "not",
    "n't",
    "nt",
    "never",
    "no",
    "nothing",
    "nobody",
    "none",
    "neither",
    "nor",
    "nowhere",
    "noone",
    "cannot",
}
SUBJECT_DEPS = {"nsubj", "nsubjpass", "expl", "csubj", "csubjpass"}
# A negation under one of these belongs to a subordinate clause ("… after the boy did not catch it").
SUBORDINATE_DEPS = {"advcl", "relcl", "acl", "ccomp", "pcomp", "csubj", "csubjpass", "parataxis"}
# Dependencies through which a wh-word's phrase head is found ("which" → "side" in "which side of …").
WH_PHRASE_DEPS = {"det", "poss", "pobj", "nummod", "amod", "compound"}

# Tags of the words between what/which/whose and the auxiliary in "which side of the phone did …".
WH_NOUN_PHRASE_TAGS = {"DT", "PDT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "IN", "CD", "POS", "PRP$"}
MAX_WH_NOUN_PHRASE = 6
NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS", "PRP", "EX"}
NOUN_PHRASE_TAGS = {"DT", "PDT", "PRP$", "JJ", "JJR", "JJS", "CD", "POS"} | NOUN_TAGS
CLAUSE_OPENERS = {
    "after",
    "before",
    "when",
    "while",
    "as",
    "until",
    "since",
    "because",
    "if",
    "once",
    "whenever",
    "though",
    "although",
    "that",
    "who",
    "which",
    "where",
    "so",
}

FIRST_WORD = re.compile(r"^\W*?([A-Za-z]+(?:['’][A-Za-z]+)?)")
# "how …", also after a preposition ("in how many rooms …"); group 1 is "many"/"much" when present
# "in what way/manner" asks how, and takes no sound negation either ("in what manner isn't the camera moving")
HOW = re.compile(
    r"^\W*?(?:(?:(?:in|at|on|for|to|by|with|from|during|after|before|of)\s+)?how\b(?:\s+(many|much)\b)?"
    r"|(?:in|by)\s+(?:what|which)\s+(?:way|manner|fashion)s?\b|what\s+manner\b)",
    re.IGNORECASE,
)
# wh-words that a preposition can open a question with: "during which part …", "to whom …", "with what …"
PREPOSED_WH = {"which", "what", "whom", "whose"}
NEGATIVE_TEXT = re.compile(
    r"n['’]t\b|\b(?:not|nt|no|never|nothing|nobody|none|neither|nor|nowhere|noone|cannot|dont|didnt|doesnt|isnt"
    r"|arent|wasnt|werent|cant|couldnt|wouldnt|shouldnt|wont|hasnt|havent|hadnt|aint)\b",
    re.IGNORECASE,
)
# "What playback rate is the video at – normal pace?", "In which order …: A after B?": a single candidate
# answer after a dash or colon makes a yes/no question ("or" makes an alternative question, which is fine).
DISGUISED_YES_NO = re.compile(r"(?:\s[-–—]+\s*|[–—]|:\s)(?P<alt>[^?:–—]+)\?\W*$")
# Verbs whose negation moves into their complement ("doesn't want him to go" = "wants him not to go") and
# adverbials whose scope a negation changes ("didn't show in order" reads as "showed out of order"). The
# lemmas are checked on the parse; the word pattern only keeps such questions off the fast path.
NEG_RAISING = {
    "want",
    "wish",
    "think",
    "believe",
    "expect",
    "suppose",
    "intend",
    "plan",
    "seem",
    "appear",
    "imagine",
    "guess",
    "reckon",
    "feel",
}
SCOPE_ADVERBS = {"likely", "probably", "possibly", "perhaps", "maybe", "respectively"}
# "in order", "in what order", "in the correct order", "in sequence" (not "in the sequence", a noun phrase, nor
# the purpose "in order to")
SCOPE_NOUNS = ("order", "sequence", "succession", "turn")
SCOPE_ORDER = re.compile(
    r"\bin\s+(?:(?:what|which)\s+|(?:the\s+)?(?:correct|right|proper|same|chronological|reverse|"
    r"sequential)\s+)?(?:order|sequence|succession|turn)\b(?!\s+(?:to|for|that)\b)",
    re.IGNORECASE,
)
# Words whose meaning a negation of their verb flips or shifts (issue 30): "which object doesn't appear for the
# first time at the end" means "appeared before", "what doesn't he do again" presupposes he did it once, "what
# isn't approximately the length" admits the neighbours. On the main verb they are refused as scope adverbials;
# as adjectives in a noun phrase ("the first step") or in a subordinate clause ("after he threw it again") not.
SCOPE_WORDS = {
    "again",
    "already",
    "yet",
    "anymore",
    "initially",
    "originally",
    "firstly",
    "finally",
    "eventually",
    "lastly",
    "approximately",
    "roughly",
    "nearly",
    "almost",
    # frequency whose negation is another frequency: "doesn't always" = "sometimes doesn't"
    "always",
    "sometimes",
    "often",
    "usually",
    "rarely",
    "seldom",
}
# ordinals on the verb ("who finished first", "at first", "for the first time"), "still" unless it is the
# adjective of a posture verb ("stand still"), "about"/"around" before a number
ORDINAL_SCOPE = {"first", "last"}
STILL_VERBS = {"stand", "sit", "stay", "hold", "keep", "lie", "remain", "be", "freeze"}
APPROXIMATORS = {"about", "around"}
# word forms of NEG_RAISING, SCOPE_ADVERBS and the scope words (a set lookup is cheaper than a regex on the
# fast path)
NEEDS_PARSE = {f"{stem}{end}" for stem in NEG_RAISING | SCOPE_ADVERBS for end in ("", "s", "d", "ed", "ing")} | {
    "thought",
    "felt",
    "believing",
    "supposing",
    "imagining",
    "planned",
    "planning",
    "wishes",
    "guesses",
}
# A phrase or clause before the question ("According to the video, what …", "If the cube is removed, which
# …"): the question after the comma is negated and the phrase kept as it is.
PREPOSITIONS = {
    "in",
    "at",
    "on",
    "for",
    "to",
    "by",
    "with",
    "from",
    "during",
    "after",
    "before",
    "of",
    "into",
    "through",
    "across",
    "under",
    "over",
    "among",
    "between",
    "within",
    "towards",
    "toward",
}
RELATIVE_WORDS = {"who", "whom", "whose", "which", "where", "when"}
# A sentence boundary followed by the next sentence (setup sentences before the question).
SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"”’']?\s+(?=[\"“]?[A-Z])")
# The fast path: a bare wh-word, a contractible auxiliary, then words and spaces only.
FAST_FORM = re.compile(
    r"^(?P<head>\s*(?P<wh>why|what|where|when|who|which)\s+)"
    r"(?P<aux>did|does|do|is|are|was|were|will|would|can|could|should)"
    r"(?P<rest>\s+[A-Za-z][A-Za-z0-9'’ \t-]*?[?.!]?\s*)$",
    re.IGNORECASE,
)
QUOTES = {"'", '"', "‘", "’", "“", "”", "`", "``", "''"}
# A line that starts like a lettered option ("A. Eating", "(b) Dancing").
OPTION_LINE = re.compile(r"^\s*\(?[A-H][.):]\s", re.MULTILINE)
# A second question coordinated with the first (issue 30): "…, and why does she switch …?", "… and what does
# this suggest …?", "…, why are the men …?", "…, did the girl tell a joke?", "…, and why?". Each option
# answers both parts, so no negation of the parts is sound; the template covers the whole question. Two
# wh-words of one clause ("When and where did the match take place?") ask one question and are negated.
_AUX = r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must)"
_SUBJECT_START = r"(?:he|she|it|they|we|you|i|the|this|that|these|those|there|his|her|their|its|a|an|one|each|both)"
_NOT_AFTER_WH = "".join(rf"(?<!\b{w})" for w in ("what", "why", "where", "when", "who", "how", "which"))
COORDINATED = re.compile(
    rf"(?:[,;]|{_NOT_AFTER_WH}\s(?:and|or))\s*(?:and\s+|or\s+|but\s+|then\s+)?(?:why|how)\s*[?.!]*\s*$"
    rf"|[,;]\s*(?:and\s+|or\s+|but\s+|then\s+)?(?:what|why|how|who|whom|whose|which|where|when)\b"
    rf"(?:\s+[\w'’-]+){{0,3}}?\s+{_AUX}\s+{_SUBJECT_START}\b"
    rf"|{_NOT_AFTER_WH}\s(?:and|but)\s+(?:what|why|how|who|whom|whose|which|where|when)\b(?:\s+[\w'’-]+){{0,3}}?\s+{_AUX}"
    rf"\s+{_SUBJECT_START}\b"
    rf"|[,;]\s*(?:and\s+|but\s+)?{_AUX}(?:n['’]t)?\s+{_SUBJECT_START}\b"
    rf"|;\s*(?:and\s+|but\s+)?(?:what|why|how|who|whom|whose|which|where|when)\b",  # no relative after ";"
    re.IGNORECASE,
)
# "about 5 minutes", "around twenty people": an approximation, whose negation admits the neighbours
NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty", "hundred"}
APPROXIMATE_NUMBER = re.compile(rf"\b(?:about|around)\s+(?:\d|(?:{'|'.join(sorted(NUMBER_WORDS))})\b)")
# a wh-word after a coordinator: the fast path leaves such questions to the parse (`rules._second_question`)
SECOND_WH = re.compile(r"\b(?:and|or|but)\s+(?:what|why|how|who|whom|whose|which|where|when)\b")
# "first"/"last" that may be on the verb ("who finished first", "at first", "the first time"), unlike the
# adjective after a determiner ("the first step", "his last move"), which the fast path may keep
ORDINAL_ON_VERB = re.compile(
    r"\b(?<!\bthe )(?<!\ba )(?<!\bhis )(?<!\bher )(?<!\bits )(?<!\bthis )(?<!\bthat )(?<!\btheir )(?<!\bmy )"
    r"(?:first|last)\b|\b(?:first|last)\s+time\b"
)
# the scope words the fast path leaves to the parse when they come before any subordinate clause
SCOPE_CANDIDATES = frozenset(SCOPE_WORDS | {"still"})
