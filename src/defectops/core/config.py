"""One typed settings object for every verb, from a YAML file, the environment and CLI flags.

Precedence is file < environment (``DEFECTOPS_...``, nested with ``__``) < flags, so a scheduler can
pin a value in the environment and a person can still override it for one run. Unknown keys and bad
values end in a :class:`~defectops.core.errors.UserError` whose one line names the key, in every
layer:
a typo in a config file must not silently fall back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

from defectops.core.errors import UserError
from defectops.core.layout import Layout

ENV_PREFIX = "DEFECTOPS_"
ENV_NESTED = "__"
#: switches read outside the settings (e.g. by the CLI), allowed beside the settings' variables
ENV_SWITCHES = frozenset({"DEFECTOPS_DEBUG", "DEFECTOPS_FAILPOINT", "DEFECTOPS_SCREENSHOT"})
#: variables of the prediction service's own options (``serving.app.ServeSettings``)
ENV_SERVE_PREFIX = "DEFECTOPS_SERVE_"

ModelName = Literal["gbm", "seed-ensemble", "logreg"]
Strategy = Literal["expanding", "sliding", "warm-start"]
HoldoutStrategy = Literal["tail", "stratified"]
GateRule = Literal["newer-unless-worse", "non-inferiority", "superiority", "classic"]
Metric = Literal["pr_auc", "roc_auc", "f1", "mcc", "accuracy", "balanced_accuracy", "brier"]
Engine = Literal["local", "dask"]

ColumnList = Annotated[list[str], NoDecode]

#: text that means "missing" in any column (an empty cell always does); ``na_values`` replaces it
DEFAULT_NA_VALUES = (
    "NA",
    "N/A",
    "na",
    "n/a",
    "NaN",
    "nan",
    "NAN",
    "null",
    "NULL",
    "Null",
    "None",
    "none",
    "?",
    "-",
    "--",
    "#N/A",
    "#NA",
    "<NA>",
    "NaT",
    "missing",
    "MISSING",
)
#: the largest magnitude a model can take: float32's (XGBoost computes in float32)
FLOAT32_MAX = 3.4028234663852886e38


def _split_columns(value: Any) -> Any:
    """Accept ``"a,b"`` from flags and the environment as well as a YAML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class GateSettings(BaseModel):
    """When a challenger may replace the champion (see :mod:`defectops.evaluation.gate`)."""

    model_config = ConfigDict(extra="forbid")

    rule: GateRule = "newer-unless-worse"
    primary_metric: Metric = "pr_auc"
    min_accuracy: float = Field(0.70, ge=0.0, le=1.0)
    beat_baseline_mcc: bool = True
    min_delta: float = Field(0.0, ge=0.0)
    margin: float = Field(0.02, ge=0.0)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    n_bootstrap: int = Field(1000, ge=100)


class ThresholdSettings(BaseModel):
    """How the decision threshold is chosen, always on training data, never on the hold-out."""

    model_config = ConfigDict(extra="forbid")

    objective: Literal["f1", "cost"] = "f1"
    cost_ratio: float = Field(5.0, gt=0.0, description="cost of a missed defect / a false alarm")


class MonitorSettings(BaseModel):
    """When a batch counts as drifted (see :mod:`defectops.monitoring.drift`)."""

    model_config = ConfigDict(extra="forbid")

    psi_warn: float = Field(0.1, gt=0.0, description="PSI from which a column is 'warn'")
    psi_drift: float = Field(0.25, gt=0.0, description="PSI from which a column is 'drift'")
    unseen_warn: float = Field(
        0.05, gt=0.0, le=1.0, description="unseen-value share beyond the training novelty: warn"
    )
    unseen_drift: float = Field(
        0.2, gt=0.0, le=1.0, description="unseen-value share beyond the training novelty: drift"
    )
    false_alarm_rate: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description="the chance that a batch with nothing wrong has a column beyond its "
        "allowance (the allowances are quantiles of the training windows' PSI at this level, "
        "shared among the watched columns)",
    )
    window: int = Field(5000, ge=100, description="rows the service keeps to watch its inputs")
    sample_rate: float = Field(
        1.0, gt=0.0, le=1.0, description="share of served rows that enter the service's window"
    )


class IngestSettings(BaseModel):
    """The production loop: when ``ingest`` retrains and how late labels are joined."""

    model_config = ConfigDict(extra="forbid")

    retrain: Literal["every-batch", "every-n", "on-drift"] = "every-batch"
    every: int = Field(3, ge=1, description="batches between retrains for retrain: every-n")
    label_key: str | None = Field(None, description="column joining late labels to stored rows")
    min_rows: int = Field(200, ge=10, description="labelled rows needed before a first model")


class Settings(BaseSettings):
    """Everything a run needs; the one place defaults live."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED,
        extra="forbid",
        validate_default=True,
    )

    data: Path | None = None
    target: str = "DefectStatus"
    positive_label: str | None = None
    categorical: ColumnList | None = None
    drop: ColumnList = Field(default_factory=list)
    order_by: str | None = None
    na_values: ColumnList = Field(
        default_factory=lambda: list(DEFAULT_NA_VALUES),
        description="text meaning missing, in every column (an empty cell always does)",
    )
    timestamp_format: str | dict[str, str] | None = Field(
        None,
        description="strptime format of the timestamp columns (or epoch_s, epoch_ms, ISO8601), "
        "or a mapping column -> format; none: inferred from all values of each column",
    )
    keep_identifiers: bool = Field(
        False, description="use columns that identify rows (unique, or a counter) as features"
    )
    strict: bool = Field(False, description="refuse data with leak suspects (exit 2)")
    max_abs_value: float = Field(
        FLOAT32_MAX, gt=0.0, description="a number of larger magnitude is quarantined"
    )
    chunk_size: int = Field(1000, ge=1)
    holdout: HoldoutStrategy = "tail"
    holdout_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    holdout_min_defects: int = Field(
        20, ge=0, description="tail: widen the hold-out back in time until it holds this many"
    )
    holdout_max_fraction: float = Field(
        0.4, gt=0.0, lt=1.0, description="tail: the widest hold-out before falling back"
    )
    holdout_data: Path | None = None
    model: ModelName = "gbm"
    strategy: Strategy = "expanding"
    window: int = Field(5, ge=1, description="chunks kept by the sliding strategy")
    hash_buckets: int = Field(4096, ge=16, le=1 << 22)
    tune: float = Field(
        0.0,
        ge=0.0,
        description="gbm: seconds per fit to score other tree settings by cross-fitting (0: off)",
    )
    gate: GateSettings = Field(default_factory=GateSettings)
    threshold: ThresholdSettings = Field(default_factory=ThresholdSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    artifacts: Path = Path("artifacts")
    reports: Path | None = None
    tracking_uri: str | None = None
    registered_model: str = "defect-classifier"
    seed: int = 42
    admin_token: SecretStr | None = None
    engine: Engine = Field(
        "local", description="local: pandas in this process; dask: partitions on a Dask cluster"
    )
    scheduler: str | None = Field(
        None, description="Dask scheduler address (tcp://host:8786); none: a LocalCluster"
    )
    local_cluster_host: str = Field(
        "127.0.0.1",
        description="dask engine without a scheduler: the interface the LocalCluster it starts "
        "listens on (scheduler, workers, dashboard)",
    )
    staging: Path | None = Field(
        None,
        description="dask engine: a directory the workers and this process all reach, where "
        "validated rows wait as Parquet between steps; none: <artifacts>/.staging",
    )

    _split = field_validator("categorical", "drop", "na_values", mode="before")(_split_columns)

    def conflicts(self) -> list[str]:
        """Options that contradict each other (a column both used and dropped, named twice)."""
        problems = []
        for key in ("categorical", "drop"):
            names = getattr(self, key) or []
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                problems.append(f"{key} names {', '.join(map(repr, twice))} twice")
        dropped = set(self.drop)
        if self.target in dropped:
            problems.append(f"{self.target!r} is the target and also in drop")
        roles = [("categorical", self.categorical or [])]
        if self.order_by is not None:
            roles.append(("order_by", [self.order_by]))
        if isinstance(self.timestamp_format, dict):
            roles.append(("timestamp_format", list(self.timestamp_format)))
        for key, names in roles:
            for name in names:
                if name in dropped:
                    problems.append(f"{name!r} is both in {key} and in drop")
        if self.target in (self.categorical or []):
            problems.append(f"{self.target!r} is the target and also in categorical")
        if self.order_by is not None and self.order_by == self.target:
            problems.append(f"{self.target!r} is the target and also the order column")
        return problems

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        # load_settings merges the layers itself (file < env < flags); the model only validates.
        return (init_settings,)

    @property
    def layout(self) -> Layout:
        """Every path of the artifacts directory, with the reports and staging placed here."""
        return Layout(self.artifacts, self.reports, self.staging)

    @property
    def reports_dir(self) -> Path:
        """Reports live beside the models unless placed elsewhere."""
        return self.layout.reports_dir

    @property
    def store_dir(self) -> Path:
        """The ingested batches (Parquet, one directory per batch) and their manifest."""
        return self.layout.store_dir

    @property
    def quarantine_path(self) -> Path:
        return self.layout.quarantine

    @property
    def resolved_tracking_uri(self) -> str:
        """The embedded default: a SQLite file in the artifact directory, no server needed."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{self.layout.mlflow_db.resolve()}"


def load_settings(
    config_file: Path | str | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from a YAML file, the environment and flags (flags win).

    ``flags`` holds only what the user typed: ``None`` values are ignored, so an absent flag never
    hides a value from the file or the environment.
    """
    environ = os.environ if environ is None else environ
    layers = [
        ("config file", _read_config_file(Path(config_file)) if config_file else {}),
        ("environment", _read_environment(environ)),
        ("flags", _drop_none(dict(flags or {}))),
    ]
    merged: dict[str, Any] = {}
    for name, values in layers:
        _check_keys(values, name)
        merged = _deep_merge(merged, values)
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, "config")) from None
    problems = settings.conflicts()
    if problems:
        raise UserError(f"conflicting options: {'; '.join(problems)}; fix the flags or config")
    return settings


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """One line per problem, naming the key: ``config: chunk_size: must be >= 1 (got 0)``."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(root)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key; check the spelling against `defectops --help`"
        got = error.get("input")
        shown = "" if error["type"] in {"extra_forbidden", "missing"} else f" (got {got!r})"
        lines.append(f"{what}: {key}: {message}{shown}")
    return "; ".join(lines)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"config file {path}: cannot read it ({exc.strerror})") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"config file {path}: not valid YAML ({exc})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"config file {path}: must hold a mapping of keys to values")
    return _normalise_keys(values)


def _read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    known = set(Settings.model_fields)
    for name in environ:
        upper = name.upper()
        if upper.startswith(ENV_SERVE_PREFIX) or upper in ENV_SWITCHES:
            continue
        if upper.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].split(ENV_NESTED)[0].lower()
            if key not in known:
                raise UserError(f"environment: {name}: unknown setting; unset it or fix the name")
    source = EnvSettingsSource(
        Settings, env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED, case_sensitive=False
    )
    source.env_vars = {k.lower(): v for k, v in environ.items()}
    try:
        return _normalise_keys(source())
    except Exception as exc:  # pydantic-settings wraps JSON decoding problems
        raise UserError(f"environment: {exc}") from None


def _check_keys(values: Mapping[str, Any], layer: str) -> None:
    known = Settings.model_fields
    for key, value in values.items():
        if key not in known:
            raise UserError(f"{layer}: {key}: unknown key; check the spelling")
        nested = known[key].annotation
        if isinstance(value, dict) and isinstance(nested, type) and issubclass(nested, BaseModel):
            for sub in value:
                if sub not in nested.model_fields:
                    raise UserError(f"{layer}: {key}.{sub}: unknown key; check the spelling")


def _normalise_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """Let YAML say ``chunk-size`` as well as ``chunk_size``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        out[name] = _normalise_keys(value) if isinstance(value, dict) else value
    return out


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
