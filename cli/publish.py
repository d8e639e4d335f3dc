"""`twgrpo publish`: records → Hugging Face Hub dataset (parquet shards + generated dataset card)."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from twgrpo_data.garbage_collection import gc_paused
from twgrpo_data.outputs import OutputSpec

from .options import out_help, output_path
from .output import console, print_json, status, warning

app = typer.Typer()  # one command: `twgrpo publish` itself


@app.command("publish")
@gc_paused()  # reads, converts or writes whole datasets: see `twgrpo_data.garbage_collection`
def publish(
    dataset: Path = typer.Argument(
        ...,
        help="Records to publish: .json (unified or records), .jsonl, .parquet, "
        "an HF save_to_disk folder or a Hub dataset (hf://datasets/OWNER/NAME).",
    ),
    repo_id: str = typer.Option(..., "--repo-id", help="Target dataset repository, OWNER/NAME."),
    card: str | None = typer.Option(
        None,
        "--card",
        help="Card template: a shipped name (nextgqa-qai, "
        "star-qai, clevrer-counterfactual, generic) or a CARD.md file. "
        "Default: chosen from the data.",
    ),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="QAI report JSON from `twgrpo qai convert --report` (spaCy model, reasons for unnegatable questions).",
    ),
    private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    split: str | None = typer.Option(
        None,
        "--split",
        help="Split name on the Hub (default: train; an HF "
        "folder with several splits publishes all unless one is named).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Write what would be uploaded to a local folder; upload nothing."
    ),
    out: str | None = typer.Option(
        None,
        "-o",
        "--out",
        help=out_help(
            "Folder for the files (default with --dry-run: hub_preview/OWNER/NAME); on a real push, keeps a local "
            "copy. DIR/ writes DIR/NAME."
        ),
    ),
    permission: bool = typer.Option(
        False,
        "--i-have-permission",
        help="Publish data from sources whose terms forbid redistribution (Video-MME) or commercial use (TempCompass).",
    ),
    license: str | None = typer.Option(
        None,
        "--license",
        help="Licence (a Hub licence id, e.g. cc-by-4.0) of "
        "records from no benchmark twgrpo knows; without it they are refused.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Publish records to the Hugging Face Hub with a generated dataset card (one commit).

    Example: twgrpo publish qai.jsonl --repo-id me/nextgqa-qai --report qai_report.json --dry-run
    """
    from twgrpo_data.hub.publish import publish as publish_dataset

    if out is not None:
        spec = OutputSpec("hub preview folder", folder=True, default_name=repo_id.rsplit("/", 1)[-1] or None)
        out = output_path(out, spec, inputs=[dataset, report])

    result = publish_dataset(
        dataset,
        repo_id,
        card=card,
        report=report,
        private=private,
        split=split,
        dry_run=dry_run,
        out=out,
        permission=permission,
        license=license,
        status=status,  # reading, checking, table, shards, card, upload
    )
    if as_json:
        print_json(result.to_dict())
        return
    # every flag the real push needs, so that the command printed after a dry run publishes what was previewed
    flags = [("--report", report), ("--card", card), ("--split", split), ("--license", license)]
    flags += [("--private", private), ("--i-have-permission", permission)]
    _print_published(
        result, repo_id, dry_run, _command(["twgrpo", "publish", str(dataset), "--repo-id", repo_id], flags)
    )


def _command(head: list[str], flags: list[tuple[str, object]]) -> str:
    """`head` and the flags given: `(flag, value)` for an option (None: not given), `(flag, bool)` for a switch."""
    for flag, value in flags:
        if value is True:
            head.append(flag)
        elif value is not None and value is not False:
            head += [flag, str(value)]
    return shlex.join(head)


def _print_published(result, repo_id: str, dry_run: bool, command: str) -> None:
    """What was published (or would be): warnings, the splits, the folder's files, and the commit — or after a
    dry run the `command` that publishes it."""
    for note in result.warnings:
        warning(note)
    console.print(
        f"[bold]{repo_id}[/] ({'dry run' if dry_run else 'published'}; card template {escape(result.template)})"
    )
    summary = Table()
    summary.add_column("split")
    summary.add_column("records", justify="right")
    for name, n in result.splits.items():
        summary.add_row(escape(name), str(n))
    console.print(summary)
    if result.folder is not None:
        console.print(_tree(result.folder, result.files))
    if result.push is not None:
        console.print(
            f"committed {len(result.push.added)} file(s)"
            + (f", deleted {len(result.push.deleted)} stale file(s)" if result.push.deleted else "")
            + f": {result.push.commit_url}"
        )
    elif dry_run:
        console.print("nothing uploaded; to publish: " + escape(command), soft_wrap=True)


def _tree(root: Path, files: list[tuple[str, int]]) -> Tree:
    """The folder as a rich tree, with file sizes."""
    tree = Tree(f"[bold]{escape(str(root))}/")
    branches: dict[str, Tree] = {}
    for path, size in files:
        *parents, name = path.split("/")
        node = tree
        for i in range(len(parents)):
            key = "/".join(parents[: i + 1])
            if key not in branches:
                branches[key] = node.add(f"{escape(parents[i])}/")
            node = branches[key]
        node.add(f"{escape(name)} [dim]({size:,} bytes)[/]")
    return tree
