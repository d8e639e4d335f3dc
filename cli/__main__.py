"""`python -m twgrpo_cli` runs the `twgrpo` command (used by tests to call the installed CLI)."""

from .app import main

main()
