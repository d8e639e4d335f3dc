"""Dataset-card templates and the source-licence table, shipped as package data of `twgrpo_data`."""
