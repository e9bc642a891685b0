"""Every path and file name of an artifacts directory, in one place.

An artifacts directory is the unit users copy, back up, serve from and point CI at::

    artifacts/
      incremental_models/model_07/   each chunk model: model_chunk_07.joblib, metadata.json,
                                     feature_schema.json
      previous_runs/<run>/           the chunk models of earlier back-fills (never deleted)
      production/                    the champion (a verified copy; metadata.json written last)
      reports/                       JSON reports, PNGs, drift/ and ingest/ (or ``reports:``)
      store/                         ingested batches (batch=<id>/) and manifest.json
      quarantine.csv                 rows the data contract refused
      registry_history.jsonl         every alias change: who, when, why
      run_state.json                 the resume point of the last back-fill
      mlflow.db, mlruns/             the embedded MLflow store and its artifacts
      .defectops.lock                held by the command writing here
      .staging/                      the Dask engine's validated rows between steps

Code that reads or writes any of these asks a :class:`Layout` for the path, so a file moves in
one place and a reader never guesses where a writer put it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = "incremental_models"
PREVIOUS_RUNS_DIR = "previous_runs"
PRODUCTION_DIR = "production"
REPORTS_DIR = "reports"
STORE_DIR = "store"
STAGING_DIR = ".staging"
MLRUNS_DIR = "mlruns"
METADATA = "metadata.json"
SCHEMA = "feature_schema.json"
QUARANTINE = "quarantine.csv"
HISTORY = "registry_history.jsonl"
RUN_STATE = "run_state.json"
MLFLOW_DB = "mlflow.db"
LOCK = ".defectops.lock"
VALIDATION_REPORT = "data_validation_report.json"
#: under the reports directory: one drift report per batch, and one report per ingest
DRIFT_REPORTS = "drift"
INGEST_REPORTS = "ingest"


@dataclass(frozen=True)
class Layout:
    """The paths of one artifacts directory; ``reports`` and ``staging`` may live elsewhere."""

    root: Path
    reports: Path | None = None
    staging: Path | None = None

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS_DIR

    def model_dir(self, chunk_id: int, width: int = 2) -> Path:
        return self.models_dir / f"model_{chunk_id:0{width}d}"

    @staticmethod
    def model_file(chunk_id: int, width: int = 2) -> str:
        return f"model_chunk_{chunk_id:0{width}d}.joblib"

    @property
    def previous_runs_dir(self) -> Path:
        return self.root / PREVIOUS_RUNS_DIR

    @property
    def production_dir(self) -> Path:
        return self.root / PRODUCTION_DIR

    @property
    def reports_dir(self) -> Path:
        return self.reports if self.reports is not None else self.root / REPORTS_DIR

    @property
    def drift_reports_dir(self) -> Path:
        return self.reports_dir / DRIFT_REPORTS

    @property
    def ingest_reports_dir(self) -> Path:
        return self.reports_dir / INGEST_REPORTS

    @property
    def validation_report(self) -> Path:
        return self.reports_dir / VALIDATION_REPORT

    @property
    def store_dir(self) -> Path:
        return self.root / STORE_DIR

    @property
    def staging_dir(self) -> Path:
        return self.staging if self.staging is not None else self.root / STAGING_DIR

    @property
    def quarantine(self) -> Path:
        return self.root / QUARANTINE

    @property
    def history(self) -> Path:
        return self.root / HISTORY

    @property
    def run_state(self) -> Path:
        return self.root / RUN_STATE

    @property
    def mlflow_db(self) -> Path:
        return self.root / MLFLOW_DB

    @property
    def mlruns_dir(self) -> Path:
        return self.root / MLRUNS_DIR

    @property
    def lock(self) -> Path:
        return self.root / LOCK
