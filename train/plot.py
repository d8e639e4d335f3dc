"""Training curves from a run's metrics JSONL, as in the paper's Figure 3 (reward std and completion length).

Several runs can be overlaid (e.g. TW-GRPO vs GRPO); each is labelled by its folder name, with as many parent
folders as it takes to tell runs apart (`A/run`, `B/run`). The file type follows the suffix (.png, .pdf, .svg).

Example:
    >>> plot_training_curves(["runs/twgrpo", "runs/grpo"], "curves.png", smooth=10)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from twgrpo_data.errors import TwgrpoError
from twgrpo_data.outputs import atomic_path

DEFAULT_METRICS_FILE = "metrics.jsonl"
PLOT_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
# (metric key in the JSONL, panel title); the first two are the paper's Figure 3.
PANELS = [
    ("reward_std", "reward std"),
    ("completions/mean_length", "completion length (tokens)"),
    ("reward", "reward mean"),
    ("soft_accuracy", "soft accuracy"),
]


def metrics_path(run: str | os.PathLike) -> Path:
    """The metrics JSONL of a run folder (or the file itself when a file is given)."""
    p = Path(run)
    return p / DEFAULT_METRICS_FILE if p.is_dir() else p


def read_metrics(run: str | os.PathLike) -> list[dict]:
    """Training-step rows (those with a `step`, without eval keys) of a run's metrics JSONL, in step order."""
    from twgrpo_data.io.jsonl_log import read_jsonl_log

    path = metrics_path(run)
    if not path.is_file():
        raise TwgrpoError(f"{path}: no metrics file (is this a `twgrpo train` output folder?)")
    # a run being written (or killed mid-line) may end in a torn line: it is dropped, as the trainer drops it
    rows = [r for r in read_jsonl_log(path)[0] if "step" in r and not any(key.startswith("eval_") for key in r)]
    return sorted(rows, key=lambda r: r["step"])


def plot_format(out: str | os.PathLike) -> str:
    """The matplotlib format for a plot file, from its suffix; another suffix is a user error."""
    suffix = Path(out).suffix.lower()
    if suffix not in PLOT_FORMATS:
        raise TwgrpoError(f"{out}: a plot file ends in {', '.join(PLOT_FORMATS)}")
    return PLOT_FORMATS[suffix]


def run_labels(runs: list[str | os.PathLike]) -> list[str]:
    """A short unique label per run: its folder name, plus parent folders where two names clash."""
    parts = []
    for run in runs:
        path = Path(run).resolve()
        folder = path if path.is_dir() else path.parent
        parts.append(folder.parts)
    labels = []
    for own in parts:
        depth = 1
        while depth < len(own) and any(other != own and other[-depth:] == own[-depth:] for other in parts):
            depth += 1
        labels.append("/".join(own[-depth:]))
    if len(set(labels)) < len(labels):
        raise TwgrpoError("the same run is given twice")
    return labels


def _moving_average(values: list[float], window: int) -> list[float]:
    out, total, kept = [], 0.0, []
    for v in values:
        kept.append(v)
        total += v
        if len(kept) > window:
            total -= kept.pop(0)
        out.append(total / len(kept))
    return out


def training_figure(series: dict[str, list[dict]], smooth: int = 1):
    """The matplotlib figure of `plot_training_curves`: a 2×2 grid of the panels some run logged (reward std and
    completion length first, as the paper's Figure 3), one colour per run; with `smooth` > 1 each run's raw
    values are drawn faintly behind its trailing moving average, so smoothing hides no spike."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = [(key, title) for key, title in PANELS if any(key in r for rows in series.values() for r in rows)]
    if not panels:
        raise TwgrpoError("no plottable metrics (reward_std, completion length, …) in the given runs")
    ncols = 1 if len(panels) == 1 else 2
    fig, axes = plt.subplots(
        (len(panels) + 1) // 2, ncols, figsize=(5.2 * ncols, 3.4 * ((len(panels) + 1) // 2)), squeeze=False
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, title) in zip(axes.flat, panels):
        for i, (label, rows) in enumerate(series.items()):
            points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            if not points:
                continue
            steps, values = zip(*points)
            colour = colours[i % len(colours)]
            if smooth > 1:
                ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8, label="_raw " + label)
            ax.plot(steps, _moving_average(list(values), max(smooth, 1)), color=colour, label=label)
        ax.set_title(title + (f" (moving average of {smooth})" if smooth > 1 else ""), fontsize=10)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_training_curves(runs: Iterable[str | os.PathLike], out: str | os.PathLike, smooth: int = 1) -> Path:
    """Draw reward std, completion length, reward and soft accuracy over steps for each run into `out`
    (`training_figure`: a 2×2 grid, raw values faint behind the `smooth`-step moving average). Panels whose
    metric no run logged are left out. Returns the written path."""
    fmt = plot_format(out)
    runs = list(runs)
    fig = training_figure(dict(zip(run_labels(runs), (read_metrics(run) for run in runs))), smooth)
    import matplotlib.pyplot as plt

    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
    plt.close(fig)
    return out
