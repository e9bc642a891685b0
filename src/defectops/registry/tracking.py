"""The MLflow side of the registry: runs, nested chunk runs, model versions and aliases.

Each ``defectops run`` is one MLflow run; each chunk model a nested run with its params and
hold-out metrics (also logged on the parent with ``step = chunk``, so the MLflow UI draws the
learning curves) and a version of one registered model, tagged with its chunk, status and reason.
The champion carries the alias ``champion``, the newest rejected model ``challenger`` (aliases,
not the deprecated stages).

The default store is embedded: a SQLite file and an artifact folder inside the artifact directory,
no server. ``tracking_uri: http://host:port`` uses a real tracking server instead.

Every write is idempotent, keyed by the run key and chunk, so a run resumed after a crash finds
the runs and versions it already made instead of duplicating them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from defectops.core import failpoints
from defectops.core.config import Settings
from defectops.core.layout import METADATA, SCHEMA
from defectops.evaluation.metrics import METRICS
from defectops.evaluation.records import ModelRecord
from defectops.registry.relocation import EXPERIMENT, relocate_embedded_store
from defectops.registry.versions import ModelVersion, version_of

CHAMPION = "champion"
CHALLENGER = "challenger"

#: the pyfunc model's code, logged as source with every version (MLflow's "models from code")
PYFUNC_CODE = Path(__file__).with_name("pyfunc.py")


def _quiet_mlflow() -> None:
    """MLflow logs set-up chatter and hints at INFO/WARNING; a CLI run should stay readable."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # plants are often offline
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")


def preload() -> None:
    """Import MLflow on a background thread, for a command that will record a model.

    The import takes seconds; started first, it runs while the command validates its rows and
    fits (the fit releases the GIL), and the tracker, when it opens, finds MLflow imported (or
    waits for the import already under way: Python imports a module once). A daemon thread: a
    command that fails before it records anything does not wait for it to exit.
    """
    threading.Thread(target=_import_mlflow, name="defectops-preload", daemon=True).start()


def _import_mlflow() -> None:
    _quiet_mlflow()
    import mlflow  # noqa: F401

    try:  # the map of installed packages MLflow builds when it logs a first model (0.6 s)
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()
    except (ImportError, AttributeError):  # a later MLflow: it builds the map when it needs it
        pass


class Tracker:
    """One project's MLflow tracking store and registered model."""

    def __init__(self, settings: Settings) -> None:
        _quiet_mlflow()
        import mlflow
        from mlflow import MlflowClient

        _quiet_mlflow()  # again: importing mlflow resets its loggers

        self.settings = settings
        self.uri = settings.resolved_tracking_uri
        self.model_name = settings.registered_model
        if self.uri.startswith("sqlite:"):
            settings.artifacts.mkdir(parents=True, exist_ok=True)
        if settings.tracking_uri is None:  # the embedded store travels with its directory
            relocate_embedded_store(settings.artifacts)
        self._mlflow = mlflow
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self._experiment_id: str | None = None
        self._registered = False
        #: run keys whose parent run this tracker created: nothing of theirs can exist yet
        self._new_keys: set[str] = set()
        #: the chunk of each version this tracker registered (a version's chunk never changes)
        self._chunks: dict[str, int] = {}

    # -- runs -------------------------------------------------------------------------------------

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            self._experiment_id = self._find_or_create_experiment()
        return self._experiment_id

    def _find_or_create_experiment(self) -> str:
        found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.uri.startswith("sqlite:"):
            location = self.settings.layout.mlruns_dir.resolve().as_uri()
        return str(self.client.create_experiment(EXPERIMENT, artifact_location=location))

    def find_run(self, **tags: str) -> str | None:
        """The id of an existing run with these tags (resume), or None."""
        query = " and ".join(f"tags.`defectops.{k}` = '{v}'" for k, v in tags.items())
        runs = self.client.search_runs([self.experiment_id()], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

    def start_run(self, run_key: str, params: dict[str, Any], tags: dict[str, str]) -> str:
        existing = self.find_run(run_key=run_key, kind="run")
        if existing is not None:
            self.client.update_run(existing, status="RUNNING")
            return existing
        run = self.client.create_run(
            self.experiment_id(),
            tags={"defectops.run_key": run_key, "defectops.kind": "run", **tags},
            run_name=f"defectops-{run_key[:8]}",
        )
        self._log_params(run.info.run_id, params)
        self._new_keys.add(run_key)
        return str(run.info.run_id)

    def finish_run(self, run_id: str, summary: dict[str, Any], files: list[Path]) -> None:
        metrics = {
            f"best_{name}": values["best"]
            for name, values in summary.items()
            if isinstance(values, dict) and "best" in values
        }
        self._log_metrics(run_id, metrics)
        for path in files:
            if path.exists():
                self.client.log_artifact(run_id, str(path), artifact_path="reports")
        self.client.set_terminated(run_id, status="FINISHED")

    def fail_run(self, run_id: str) -> None:
        self.client.set_terminated(run_id, status="FAILED")

    # -- chunk models -----------------------------------------------------------------------------

    def log_chunk(
        self,
        parent_id: str,
        run_key: str,
        metadata: ModelRecord,
        model_dir: Path,
        feature_schema: dict[str, Any],
    ) -> str:
        """Nested run + logged pyfunc model + registered version for one chunk; returns the version.

        A version already made for this run key and chunk (a resumed run) is returned as is.
        """
        chunk = int(metadata["chunk_id"])
        resumed = run_key not in self._new_keys  # else nothing of this run can exist yet
        existing = self.find_version(run_key, chunk) if resumed else None
        if existing is not None:
            if existing.run_id:  # a crash may have come before the run was closed
                self.client.set_terminated(existing.run_id, status="FINISHED")
            return existing.version
        child_id = self.find_run(run_key=run_key, chunk=str(chunk)) if resumed else None
        if child_id is not None:  # made by a run killed part-way: log what it did not
            params = dict(self.client.get_run(child_id).data.params)
            info = self._log_model(child_id, metadata, model_dir, feature_schema, params)
            self._complete_chunk_data(child_id, parent_id, metadata, info.model_id)
        else:
            child = self.client.create_run(
                self.experiment_id(),
                tags={
                    "mlflow.parentRunId": parent_id,
                    "defectops.run_key": run_key,
                    "defectops.chunk": str(chunk),
                    "defectops.kind": "chunk",
                },
                run_name=f"chunk-{chunk:02d}",
            )
            child_id = child.info.run_id
            # the model first: logged into a run without metrics, MLflow has none to copy
            info = self._log_model(child_id, metadata, model_dir, feature_schema, {})
            self._log_chunk_data(child_id, parent_id, metadata, info.model_id)
        version = self.client.create_model_version(
            self.model_name,
            source=info.model_uri,
            run_id=child_id,
            model_id=info.model_id,
            tags={
                "defectops.run_key": run_key,
                "chunk": str(chunk),
                "status": metadata["status"],
                "reason": metadata["reason"][:4000],
                "model_sha256": metadata["model_sha256"],
                "pr_auc": f"{metadata['metrics']['pr_auc']:.6f}",
                "f1": f"{metadata['metrics']['f1']:.6f}",
            },
        )
        self._chunks[str(version.version)] = chunk
        return str(version.version)  # the child run was ended when its model was logged

    def _log_chunk_data(
        self, child_id: str, parent_id: str, metadata: ModelRecord, model_id: str | None
    ) -> None:
        metrics = _chunk_metrics(metadata)
        self._log_params(child_id, _chunk_params(metadata), metrics, model_id=model_id)
        failpoints.reached("tracking:after-child-metrics")
        self._log_metrics(parent_id, metrics, step=int(metadata["chunk_id"]))

    def _complete_chunk_data(
        self, child_id: str, parent_id: str, metadata: ModelRecord, model_id: str | None
    ) -> None:
        """What :meth:`_log_chunk_data` had not logged when its run was killed, and only that.

        Each of its two calls is one atomic batch; the child's metrics say whether the first
        (the child's params and metrics) landed, the parent's ``promoted`` point at this step
        whether the second did (a point logged twice would draw the learning curve twice).
        """
        metrics = _chunk_metrics(metadata)
        chunk = int(metadata["chunk_id"])
        if not self.client.get_run(child_id).data.metrics:
            self._log_params(child_id, _chunk_params(metadata), metrics, model_id=model_id)
        steps = {m.step for m in self.client.get_metric_history(parent_id, "promoted")}
        if chunk not in steps:
            self._log_metrics(parent_id, metrics, step=chunk)

    def _log_model(
        self,
        run_id: str,
        metadata: ModelRecord,
        model_dir: Path,
        feature_schema: dict[str, Any],
        run_params: dict[str, str],
    ) -> Any:
        """The pyfunc model, logged into the run ``run_id``, which it then ends.

        What ``mlflow.pyfunc.log_model`` inside ``mlflow.start_run(run_id)`` recorded, told the
        run and its experiment instead: resuming the run costs two reads and a write, and ending
        it, needed either way, sets the same status and end time. The logged model is made as
        ``log_model`` makes it, with the run's params (none in a run just made), in the run's
        experiment (which ``log_model`` would take from the active run only).
        """
        self._ensure_registered_model()
        features = list(feature_schema["schema"]["numeric"]) + list(
            feature_schema["schema"]["categorical"]
        )
        mlflow = self._mlflow
        mlflow.set_tracking_uri(self.uri)  # the model's own calls go to the global store
        mlflow.set_registry_uri(self.uri)
        model = mlflow.initialize_logged_model(
            name="model",
            source_run_id=run_id,
            params=run_params,
            experiment_id=self.experiment_id(),
        )
        info = mlflow.models.Model.log(
            artifact_path=None,
            name="model",
            flavor=mlflow.pyfunc,
            run_id=run_id,
            model_id=model.model_id,
            python_model=str(PYFUNC_CODE),
            artifacts={
                "classifier": str(model_dir / metadata["model_file"]),
                "metadata": str(model_dir / METADATA),
                "feature_schema": str(model_dir / SCHEMA),
            },
            model_config={"model_sha256": metadata["model_sha256"], "features": features},
            signature=request_signature(features),
            pip_requirements=["defectops"],
        )
        self.client.set_terminated(run_id, status="FINISHED")
        return info

    def _ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        if self._registered:
            return
        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException:
            self.client.create_registered_model(
                self.model_name, description="defectops defect classifier (one version a chunk)"
            )
        self._registered = True

    # -- versions and aliases ---------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name = '{self.model_name}'")
            registered = self.client.get_registered_model(self.model_name)
        except MlflowException:
            return []
        # search results leave ``aliases`` empty; the registered model knows them
        aliases: dict[str, list[str]] = {}
        for alias, version in (registered.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        out = [
            version_of(
                str(v.version),
                dict(v.tags),
                aliases.get(str(v.version), []),
                int(v.creation_timestamp or 0),
                v.run_id,
            )
            for v in found
        ]
        return sorted(out, key=lambda v: int(v.version))

    def find_version(self, run_key: str, chunk: int) -> ModelVersion | None:
        for version in self.versions():
            if version.tags.get("defectops.run_key") == run_key and version.chunk_id == chunk:
                return version
        return None

    def chunk_of(self, version: str) -> int | None:
        """The chunk a version was trained on (its ``chunk`` tag), or None when unknown."""
        from mlflow.exceptions import MlflowException

        if version in self._chunks:
            return self._chunks[version]
        try:
            tags = self.client.get_model_version(self.model_name, version).tags
        except MlflowException:
            return None
        return int(tags["chunk"]) if "chunk" in tags else None

    def alias_version(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def set_alias(self, alias: str, version: str) -> None:
        self._registry().set_registered_model_alias(self.model_name, alias, version)

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.model_name, version, key, value)

    def model_tags(self) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        try:
            return dict(self.client.get_registered_model(self.model_name).tags or {})
        except MlflowException:
            return {}

    def set_model_tag(self, key: str, value: str) -> None:
        self._ensure_registered_model()
        self._registry().set_registered_model_tag(self.model_name, key, value)

    def download_model(self, version: str, destination: Path) -> Path:
        """The version's logged model directory (classifier, metadata, schema) on local disk."""
        from mlflow.artifacts import download_artifacts

        # the version's storage location (its ``source`` is a ``models:/m-...`` id in MLflow 3)
        root = self.client.get_model_version_download_uri(self.model_name, version)
        destination.mkdir(parents=True, exist_ok=True)
        return Path(
            download_artifacts(
                artifact_uri=f"{root.rstrip('/')}/artifacts",
                dst_path=str(destination),
                tracking_uri=self.uri,
            )
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _registry(self) -> Any:
        """Who writes aliases and model tags.

        ``MlflowClient`` reads the registered model before each such write, to refuse a prompt of
        that name: a round trip per alias. Once :meth:`_ensure_registered_model` has read it here
        (``get_registered_model`` refuses a prompt too), the registry's own client, which the
        public one delegates to after that check, writes directly.
        """
        delegate = getattr(self.client, "_get_registry_client", None)
        if not self._registered or delegate is None:  # not checked yet, or an MLflow without it
            return self.client
        return delegate()

    def _log_params(
        self,
        run_id: str,
        params: dict[str, Any],
        metrics: dict[str, float] | None = None,
        *,
        model_id: str | None = None,
    ) -> None:
        """Params (and metrics) in as few batches as MLflow takes: one, up to 100 params."""
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        batches = [items[start : start + 100] for start in range(0, len(items), 100)] or [[]]
        for n, batch in enumerate(batches):
            last = n == len(batches) - 1
            scored = _metric_items(metrics, 0, model_id) if last and metrics else []
            self.client.log_batch(run_id, params=batch, metrics=scored)

    def _log_metrics(
        self, run_id: str, metrics: dict[str, float], step: int = 0, model_id: str | None = None
    ) -> None:
        items = _metric_items(metrics, step, model_id)
        if items:
            self.client.log_batch(run_id, metrics=items)


def _metric_items(metrics: dict[str, float], step: int, model_id: str | None) -> list[Any]:
    """MLflow's metric entities, at one timestamp; missing or infinite values are left out."""
    import math
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [
        Metric(k, float(v), now, step, model_id=model_id)
        for k, v in metrics.items()
        if v is not None and math.isfinite(float(v))
    ]


def _chunk_params(metadata: ModelRecord) -> dict[str, Any]:
    params = {f"model.{k}": v for k, v in metadata.get("params", {}).items()}
    params.update(
        chunk=metadata["chunk_id"],
        rows_trained=metadata["rows_trained"],
        rows_seen=metadata["rows_seen"],
        strategy=metadata["strategy"],
        threshold=round(metadata["threshold"], 6),
        data_sha256=metadata["data_sha256"],
        fallbacks=json.dumps(metadata.get("fallbacks", [])),
    )
    training = metadata.get("training")
    if training:  # the lineage of the released model: how it was fitted, on how many rows
        params.update(
            {
                "fit.procedure": training["procedure"],
                "fit.rows": training["rows"],
                "fit.folds": training["folds"],
                "fit.fold_rounds": json.dumps(training["fold_rounds"]),
                "fit.rounds": training["rounds"],
                "fit.setting": json.dumps(training.get("setting", {}), sort_keys=True),
                "fit.settings_tried": training.get("settings_tried", 1),
            }
        )
    return params


def _chunk_metrics(metadata: ModelRecord) -> dict[str, float]:
    metrics = {f"holdout_{k}": metadata["metrics"][k] for k in METRICS}
    pre = metadata.get("prequential") or {}
    metrics.update({f"prequential_{k}": v for k, v in pre.items() if k in ("pr_auc", "roc_auc")})
    metrics["fit_seconds"] = metadata["fit_seconds"]
    metrics["promoted"] = 1.0 if metadata["status"] == "production" else 0.0
    return metrics


def request_signature(features: list[str]) -> Any:
    """The logged model's signature: every feature column, of any type, optional.

    A typed signature made MLflow refuse what pandas reads from the line's own CSV (an integer
    column against ``double``, an ID read as a number against ``string``). The model itself reads
    its input by the data contract of its training (``mlflow_model.DefectModel``), as ``predict``
    does, so the signature only names the columns; others (a timestamp, the label) are dropped.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = Schema([ColSpec(AnyType(), name, required=False) for name in features])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double")]))
