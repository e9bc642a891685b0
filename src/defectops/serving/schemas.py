"""Request models generated from the champion's feature schema, and the fixed response models.

Field names are the training columns exactly (as aliases, so ``Air temperature [K]`` works).
Every feature is required: a forgotten column is a 422 naming it, not a silent NaN.

One rule for values, the data contract's: a numeric field is a JSON number or null (missing);
``NaN``, ``Infinity``, text (``"inf"``), booleans, and numbers of larger magnitude than the
champion's ``max_abs_value`` are a 422 naming the field, as ``predict`` quarantines them. A
categorical field is text or a number, at most ``max_category_length`` characters, so no request
can make the service keep a 10 MB category. The other columns the training data had (the label,
the order and timestamp columns, dropped columns, identifiers) are accepted and ignored: a row of
the line's own file is a valid request. Only a truly unknown field is a 422.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    create_model,
    model_validator,
)

from defectops.data.schema import DataSchema

#: the longest categorical value a request may carry, unless configured
DEFAULT_MAX_CATEGORY_LENGTH = 256

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def number_type(max_abs_value: float) -> Any:
    """A numeric field: a finite JSON number within the contract's bound, or null."""

    def bounded(value: float) -> float:
        if abs(value) > max_abs_value:
            raise ValueError(f"magnitude beyond max_abs_value ({max_abs_value:g})")
        return value

    documented = Field(json_schema_extra={"minimum": -max_abs_value, "maximum": max_abs_value})
    return Annotated[Finite, AfterValidator(bounded), documented] | None


def category_type(max_length: int) -> Any:
    """A categorical field: text of at most ``max_length`` characters, a number, or null."""
    return Annotated[StrictStr, Field(max_length=max_length)] | StrictInt | Finite | None


def ignored_columns(schema: DataSchema) -> tuple[str, ...]:
    """Columns of the training data that are not features: a request may carry them."""
    known = (
        schema.target,
        *schema.timestamps,
        *((schema.order_by,) if schema.order_by else ()),
        *schema.dropped,
        *schema.identifiers,
    )
    features = set(schema.features)
    return tuple(dict.fromkeys(c for c in known if c not in features))


def _identifier(name: str, index: int, taken: set[str]) -> str:
    """A Python identifier for a column name (the alias keeps the real name)."""
    base = re.sub(r"\W+", "_", name).strip("_") or "field"
    if base[0].isdigit() or keyword.iskeyword(base) or base.startswith("model_"):
        base = f"f_{base}"
    candidate = base
    while candidate in taken:
        candidate = f"{base}_{index}"
        index += 1
    taken.add(candidate)
    return candidate


def example_record(schema: DataSchema, reference: dict[str, Any] | None) -> dict[str, Any]:
    """One plausible record: numeric mid-range, the first known category."""
    reference = reference or {}
    numeric = reference.get("numeric", {})
    categorical = reference.get("categorical", {})
    record: dict[str, Any] = {}
    for col in schema.numeric:
        bounds = numeric.get(col) or {}
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None:
            record[col] = round((float(low) + float(high)) / 2, 4)
        else:
            record[col] = low if low is not None else 0.0
    for col in schema.categorical:
        values = categorical.get(col) or []
        record[col] = values[0] if values else "unknown"
    return record


def _feature_fields(
    schema: DataSchema, max_category_length: int, *, as_lists: int | None = None
) -> dict[str, Any]:
    """One pydantic field per feature, aliased to the column name; lists of values if asked.

    Then one optional field per ignored column (accepted, never read): the features come first,
    so :func:`feature_values` is the first ``len(features)`` values of a parsed model.
    """
    taken: set[str] = set()
    fields: dict[str, Any] = {}
    number, category = number_type(schema.max_abs_value), category_type(max_category_length)
    kinds = [(col, number, "numeric", "null = missing") for col in schema.numeric] + [
        (col, category, "categorical", f"text (at most {max_category_length} characters) or number")
        for col in schema.categorical
    ]
    for i, (col, kind, role, note) in enumerate(kinds):
        if as_lists is None:
            fields[_identifier(col, i, taken)] = (
                kind,
                Field(..., alias=col, description=f"{role} feature {col!r}; {note}"),
            )
        else:
            fields[_identifier(col, i, taken)] = (
                list[kind],  # type: ignore[valid-type]
                Field(
                    ...,
                    alias=col,
                    min_length=1,
                    max_length=as_lists,
                    description=f"values of the {role} feature {col!r}; {note}",
                ),
            )
    for i, col in enumerate(ignored_columns(schema), start=len(kinds)):
        kind = Any if as_lists is None else list[Any] | None
        fields[_identifier(col, i, taken)] = (
            kind,
            Field(
                None,
                alias=col,
                exclude=True,
                description=f"{col!r} is in the training data but not a feature: ignored",
            ),
        )
    return fields


def feature_values(parsed: BaseModel, n_features: int) -> list[Any]:
    """The feature values of a parsed record (or the feature columns of a parsed table)."""
    return list(parsed.__dict__.values())[:n_features]


def record_model(
    schema: DataSchema,
    reference: dict[str, Any] | None,
    unknown_fields: Literal["reject", "ignore"] = "reject",
    name: str = "Record",
    *,
    max_category_length: int = DEFAULT_MAX_CATEGORY_LENGTH,
) -> type[BaseModel]:
    """The pydantic model of one record, fields in feature order (numeric, then categorical)."""
    config = ConfigDict(
        extra="forbid" if unknown_fields == "reject" else "ignore",
        populate_by_name=False,
        json_schema_extra={"examples": [example_record(schema, reference)]},
    )
    return create_model(name, __config__=config, **_feature_fields(schema, max_category_length))


def batch_model(record: type[BaseModel], max_batch: int) -> type[BaseModel]:
    return create_model(
        "BatchRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(list[record], Field(..., min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )


def _same_length(table: BaseModel) -> BaseModel:
    fields = type(table).model_fields
    lengths = {
        fields[name].alias or name: len(values)
        for name, values in table.__dict__.items()
        if not fields[name].exclude  # an ignored column is never read
    }
    if len(set(lengths.values())) > 1:
        (a, n), (b, m) = sorted(lengths.items(), key=lambda item: item[1])[:: len(lengths) - 1]
        raise ValueError(f"every column needs the same number of values ({a}: {n}, {b}: {m})")
    return table


def columns_model(
    schema: DataSchema,
    reference: dict[str, Any] | None,
    max_batch: int,
    unknown_fields: Literal["reject", "ignore"] = "reject",
    *,
    max_category_length: int = DEFAULT_MAX_CATEGORY_LENGTH,
) -> type[BaseModel]:
    """A batch as columns (``{"columns": {name: [values...]}}``): one list per feature.

    The same batch as records repeats every field name in every record; as columns it parses
    several times faster, which is what a high-volume caller (a pandas ``to_dict("list")``)
    gets to benefit from.
    """
    example: Any = {k: [v] for k, v in example_record(schema, reference).items()}
    table = create_model(
        "BatchColumnsTable",
        __config__=ConfigDict(
            extra="forbid" if unknown_fields == "reject" else "ignore",
            json_schema_extra={"examples": [example]},
        ),
        __validators__={"same_length": model_validator(mode="after")(_same_length)},  # type: ignore[dict-item]
        **_feature_fields(schema, max_category_length, as_lists=max_batch),
    )
    return create_model(
        "BatchColumns", __config__=ConfigDict(extra="forbid"), columns=(table, Field(...))
    )


class Prediction(BaseModel):
    defect_probability: float
    defect_pred: int
    threshold: float
    model_version: str


class BatchItem(BaseModel):
    defect_probability: float
    defect_pred: int


class BatchPrediction(BaseModel):
    predictions: list[BatchItem]
    threshold: float
    model_version: str


class Contribution(BaseModel):
    feature: str
    value: Any
    contribution: float


class Explanation(BaseModel):
    defect_probability: float
    defect_pred: int
    threshold: float
    model_version: str
    margin: float = Field(description="the booster's raw score (log-odds units, before Platt)")
    bias: float
    contributions: list[Contribution]


class ModelInfo(BaseModel):
    version: str
    chunk_id: int | None
    model: str | None
    threshold: float
    metrics: dict[str, Any]
    trained_at: str | None
    data_sha256: str | None
    holdout_sha256: str | None
    model_sha256: str | None
    features: dict[str, list[str]]
    loaded_at: str
    last_reload_error: str | None = Field(
        None, description="why the newest champion in production/ is not served (none: it is)"
    )


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[dict[str, Any]] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorBody


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("rollback via the prediction service", min_length=1, max_length=500)


class WindowSize(BaseModel):
    size: int = Field(description="rows in the service's drift window now")
    capacity: int = Field(description="rows it keeps at most (the newest)")


class DriftFeature(BaseModel):
    feature: str
    kind: Literal["numeric", "categorical"] | None = None
    psi: float | None = Field(description="population stability index against the training data")
    allowance: float | None = Field(
        None,
        description="the PSI a batch of this many rows shows with nothing wrong (from the "
        "training data's windows of that size)",
    )
    margin: float | None = Field(
        None, description="PSI still to go before drift (allowance + psi_drift - psi)"
    )
    status: str = Field(description="ok, warn or drift (beyond the feature's normal movement)")


class ScoreDrift(BaseModel):
    psi: float | None
    allowance: float | None = None
    margin: float | None = None
    status: str
    rows: int = Field(description="rows of the window scored by the current champion")


class DriftReportSummary(BaseModel):
    batch: str
    status: str
    created_at: str | None
    champion_version: str | None = None
    features: list[DriftFeature]


class Monitoring(BaseModel):
    """``GET /monitoring``: drift of the recent requests, and the newest batch report."""

    status: Literal["ok", "warn", "drift", "unknown"]
    window: WindowSize
    features: list[DriftFeature] = Field(description="worst first")
    scores: ScoreDrift | None = None
    computed_at: str | None = None
    model_version: str | None = None
    rows: int | None = Field(None, description="rows the summary was computed from")
    message: str | None = Field(None, description="why the status is unknown")
    report: DriftReportSummary | None = Field(
        description="the newest `defectops monitor` report, if any"
    )
