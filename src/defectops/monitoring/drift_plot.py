"""The picture of a batch's drift report, drawn from the report alone.

Every feature in a report carries its bins' labels and the reference's counts beside the
batch's, so the picture needs no champion. That lets ``ingest`` draw it on a thread while the
retrain fits (matplotlib takes about a second, and the fit releases the GIL), and lets a rerun
after a crash draw it again from the report it kept. The drawing uses a bare ``Figure``, not
pyplot, whose global figure list is not for threads.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from defectops.core import atomic
from defectops.core.background import in_background

#: the worst features, drawn reference against batch below the PSI bars
PLOTTED = 3
_COLOURS = {"ok": "tab:green", "warn": "tab:orange", "drift": "tab:red"}


def plot_drift(report: dict[str, Any], out: Path) -> Path:
    """PSI per feature (coloured by status) and reference vs batch for the worst ones."""
    from matplotlib.figure import Figure

    features = report["features"]
    fig = Figure(figsize=(14, 7), layout="constrained")
    grid = fig.add_gridspec(2, 3)
    _psi_panel(fig.add_subplot(grid[0, :]), report)
    for i, feature in enumerate(features[:PLOTTED]):
        _distribution(fig.add_subplot(grid[1, i]), feature)
    png = io.BytesIO()  # rendered first: a kill while drawing leaves no temporary file
    fig.savefig(png, dpi=80, format="png")
    return atomic.write_bytes(out, png.getvalue())


def draw_in_background(report: dict[str, Any], out: Path) -> Future[Path]:
    """Start :func:`plot_drift` on a thread; the future holds its path or its error."""
    return in_background(lambda: plot_drift(report, out), name="drift-plot")


def redraw_if_missing(report_path: Path, out: Path) -> None:
    """Draw ``out`` from the report at ``report_path`` when a crash came before it was drawn."""
    if not out.is_file() and report_path.is_file():
        plot_drift(json.loads(report_path.read_text(encoding="utf-8")), out)


def _psi_panel(ax: Any, report: dict[str, Any]) -> None:
    features = report["features"]
    positions = range(len(features))
    ax.bar(positions, [f["psi"] for f in features], color=[_COLOURS[f["status"]] for f in features])
    ax.scatter(
        positions,
        [f["allowance"] for f in features],
        marker="_",
        s=200,
        color="black",
        label="allowance (normal batch-to-batch movement)",
        zorder=5,
    )
    ax.set_yscale("symlog", linthresh=0.1)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_xticks(positions, [f["feature"] for f in features], rotation=60, ha="right", fontsize=7)
    thresholds = report["thresholds"]
    ax.axhline(thresholds["psi_warn"], color="tab:orange", ls="--", lw=1)
    ax.axhline(thresholds["psi_drift"], color="tab:red", ls="--", lw=1)
    ax.set_ylabel("PSI")
    ax.set_title(
        f"batch {report['batch']}: {report['status'].upper()} "
        f"(champion {report['champion_version']}, {report['rows']:,} rows; "
        f"score PSI {report['scores']['psi']:.3f})"
    )


def _distribution(ax: Any, feature: dict[str, Any]) -> None:
    reference = np.asarray(feature["reference_counts"], dtype=np.float64)
    current = np.asarray(feature["counts"], dtype=np.float64)
    x = np.arange(len(reference))
    ax.bar(x - 0.2, reference / max(reference.sum(), 1), width=0.4, label="reference")
    ax.bar(x + 0.2, current / max(current.sum(), 1), width=0.4, label="batch")
    ax.set_xticks(x, feature["bins"], rotation=60, ha="right", fontsize=6)
    ax.set_title(
        f"{feature['feature']}: PSI {feature['psi']:.3f}, allowance {feature['allowance']:.3f} "
        f"({feature['status']})",
        fontsize=9,
    )
    ax.legend(fontsize=7)
