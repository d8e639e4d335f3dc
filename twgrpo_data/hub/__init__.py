"""The Hugging Face Hub: downloading benchmarks and datasets into the standard cache, and publishing records.

download        Hub references (`hf://datasets/OWNER/NAME[@REV][/path]`, `OWNER/NAME`) and huggingface_hub
                downloads with one-line errors
dataset_repos   a dataset repository → local record files (a published Hub layout → a `save_to_disk` folder)
benchmark_data  a benchmark's annotations and the videos of the selected records
archives        video zips unpacked once, refusing members that would leave their folder
publish         records → the Hub layout (parquet shards + card) in one commit; push: the commit itself;
                local_paths: the check that no local path of this machine is published
cards           dataset cards: statistics, source facts, Jinja templates
"""
