"""``predict --engine dask``: a file scored on the cluster into a directory of Parquet files.

The champion's own scoring runs per partition; nothing is gathered but counts and the refused
rows.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from defectops.core.errors import UserError
from defectops.data.schema import check_columns
from defectops.data.validation import merge_counts, require_usable_features
from defectops.engines.base import PredictionSummary
from defectops.engines.dask.read import read_partitions
from defectops.scoring.predict import (
    PREDICTION,
    PROBABILITY,
    Champion,
    check_scored,
    refused_rows,
    score_rows,
    usable_in,
    write_quarantine,
)

if TYPE_CHECKING:
    from distributed import Client


def predict_distributed(
    artifacts: Path, data: Path, out: Path, client: Client
) -> PredictionSummary:
    """Score ``data`` on the cluster into a directory of Parquet files, in the input's order.

    One lazy dask pipeline, read -> ``map_partitions`` (the champion's own scoring) -> write, so
    each worker holds a few partitions at a time and nothing is gathered. Each input partition
    becomes ``part-NNNNN.parquet`` (numbered with leading zeros, so name order is row order for
    every reader) with its rows and the two prediction columns. The directory is written beside
    ``out`` and renamed into place, so a crash never leaves a half-written result.
    """
    import dask
    import dask.dataframe as dd

    out = check_prediction_dir(out)
    champion = Champion.load(artifacts)
    frame, _ = read_partitions(Path(data))
    check_columns(frame._meta, champion.schema, need_target=False)
    champion_ref = client.scatter(champion, broadcast=True, hash=False)
    # a feature column with no usable value anywhere is refused before anything is written
    usable = client.gather(client.compute(
        [dask.delayed(_usable)(part, champion_ref) for part in frame.to_delayed()]
    ))  # fmt: skip
    rows = sum(n for n, _ in usable)
    require_usable_features(str(data), rows, merge_counts(counts for _, counts in usable))
    scored = frame.map_partitions(
        _score_part, champion_ref, meta=_score_part(frame._meta, champion)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        scored.to_parquet(
            str(staging), write_index=False, name_function=_part_name, write_metadata_file=False
        )
        written = dd.read_parquet(str(staging), columns=[PROBABILITY, PREDICTION])
        n_rows, scored, flagged = client.compute(
            [written.shape[0], written[PROBABILITY].count(), written[PREDICTION].sum()], sync=True
        )
        check_scored(Path(data), int(n_rows), int(scored), {})
        write_quarantine(_refused(staging, client) if scored < n_rows else pd.DataFrame(), out)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = len(list(out.glob("*.parquet")))
    # counted on the cluster, since the scored rows stay there
    return PredictionSummary(int(n_rows), int(scored), int(flagged), files)


def _refused(staging: Path, client: Client) -> pd.DataFrame:
    """The refused rows of the scored parts in ``staging``, ``source_row`` counted from the
    file's first row, as :func:`defectops.scoring.predict.refused_rows` lays them out for one
    frame."""
    import dask
    import dask.dataframe as dd

    parts = dd.read_parquet(str(staging)).to_delayed()
    sizes = client.compute([dask.delayed(len)(part) for part in parts], sync=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    pieces = client.compute(
        [dask.delayed(refused_rows)(part, int(o)) for part, o in zip(parts, offsets, strict=True)],
        sync=True,
    )
    return pd.concat(pieces, ignore_index=True)


def check_prediction_dir(out: Path) -> Path:
    """``out`` names a directory for Parquet parts (new, or a former output: it is replaced)."""
    out = Path(out)
    if out.suffix.lower() in (".csv", ".gz", ".txt"):
        raise UserError(
            f"--out {out}: with --engine dask the output is a directory of Parquet files "
            "(one per partition); pass a directory name"
        )
    if out.exists() and not (out.is_dir() and _only_parquet(out)):
        raise UserError(
            f"--out {out}: exists and is not a directory of Parquet files; choose another"
        )
    return out


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _only_parquet(directory: Path) -> bool:
    return all(p.suffix == ".parquet" or p.name.startswith(("_", ".")) for p in directory.iterdir())


# -- functions run on the workers, one partition at a time ----------------------------------------


def _usable(part: pd.DataFrame, champion: Any) -> tuple[int, dict[str, int]]:
    """A partition's rows, and per feature the rows with a usable value."""
    return len(part), usable_in(part, champion)


def _score_part(part: pd.DataFrame, champion: Any) -> pd.DataFrame:
    """A partition of ``predict``: the input rows, in order, plus the prediction columns."""
    return score_rows(part, champion)
