"""twgrpo_cli — the `twgrpo` command (typer + rich). Thin: it parses, calls the libraries and renders."""
