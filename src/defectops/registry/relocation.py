"""An embedded store that travels with its artifacts directory.

MLflow records artifact locations as absolute URIs; a copied or moved artifacts directory (CI
stages pass them between jobs) must read and write its own ``mlruns/``, not the original's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from defectops.core import atomic
from defectops.core.layout import Layout

#: the experiment every run of a project is logged under
EXPERIMENT = "defectops"

#: the columns of MLflow's SQL store that hold artifact locations (absolute URIs)
_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def relocate_embedded_store(artifacts: Path) -> bool:
    """Point the embedded store's artifact locations at this directory's ``mlruns/``.

    MLflow records artifact locations as absolute URIs, so a copied or moved artifacts directory
    would keep reading and writing the original's ``mlruns/`` (and fail once it is gone); CI
    stages pass such directories between jobs. When the store's experiment points at another
    directory's ``mlruns/``, every location under it is rewritten to this one's, in one
    transaction, and the logged models' ``MLmodel`` files with them. Returns whether anything
    moved.
    """
    layout = Layout(Path(artifacts))
    db = layout.mlflow_db
    if not db.is_file():
        return False
    new_root = layout.mlruns_dir.resolve().as_uri()
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master")}
        if "experiments" not in tables:
            return False
        row = conn.execute(
            "select artifact_location from experiments where name = ?", (EXPERIMENT,)
        ).fetchone()
        old_root = row[0] if row else None
        if not old_root or old_root == new_root or not old_root.endswith("/mlruns"):
            return False
        for table, column in _LOCATION_COLUMNS:
            if table not in tables:
                continue
            if column not in {c[1] for c in conn.execute(f"pragma table_info({table})")}:
                continue
            conn.execute(
                f"update {table} set {column} = ? || substr({column}, ?) "
                f"where substr({column}, 1, ?) = ?",
                (new_root, len(old_root) + 1, len(old_root), old_root),
            )
    for mlmodel in layout.mlruns_dir.rglob("MLmodel"):
        text = mlmodel.read_text(encoding="utf-8")
        if old_root in text:
            atomic.write_text(mlmodel, text.replace(old_root, new_root))
    return True
