"""The steps of question negation, one module each; `twgrpo_data.qai.negate` is the public entry point.

vocabulary   the words, tags and patterns the rules read
outcome      statuses, reasons and `NegationResult`
text         steps on the text alone: the frame before a question, items after it, the refusals and the
             fast path that need no parse, casing and contractions
clause       what the parse says about the main clause: its finite element, subject, wh-phrase, negation
placement    where a separate "not" goes in an inverted question
rules        `negate_doc`: refuse, choose the rule (auxiliary or do-support), edit the text
template     the "Which option is NOT a correct answer …" rewrite
pipeline     loading spaCy (without torch) once per process
"""
