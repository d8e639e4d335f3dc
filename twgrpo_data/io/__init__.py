"""Readers and writers of local files (DESIGN §2): the interchange formats, JSON text and logs, Arrow tables.

Every function here takes a local path: a Hub reference is resolved before, at the edge, by
`twgrpo_data.sources` (the one door every command reads its input through).

    readers        format detection and the interchange reader (unified, records, parquet, HF folders)
    writers        the interchange writer and its JSON encoding
    unified_format the Video-R1 / TW-GRPO unified layout ↔ records
    arrow          records ↔ Arrow tables and `datasets` features; meta_column: the `meta` column's type
    json_text      UTF-8 JSON and JSON Lines with errors naming file, line and field; jsonl_log: append-only logs
    saved_dataset  `save_to_disk` folders whose files stay inside them
    yaml_keys      a PyYAML loader mixin refusing repeated keys
    load_result    what a reader returns (records, problems, skips)
"""
