"""The dask engine: the same verbs on rows spread over a Dask cluster.

Nothing that decides an outcome has a second implementation here. Each step runs the local code
on one partition at a time on the workers and combines small results on the client:

validation
    :func:`~defectops.data.validation.typed_rows` and
    :func:`~defectops.data.validation.clean_rows` per partition; each partition's
    :class:`~defectops.data.validation.RowsProfile` is merged in row order and turned into the
    report by the same :func:`~defectops.data.validation.build_report`. Each partition is read,
    validated and its clean rows staged as a Parquet file by one task (see
    :class:`~defectops.engines.staging.Staging`), so only summaries and the quarantined rows come
    back. Counts are exact. The two numbers that do not merge from summaries are counted
    globally: distinct values of numeric and time columns (dask's exact, shuffle-based
    ``nunique``) and duplicate rows (64-bit row hashes counted across partitions, rows sharing a
    hash compared in full, so a hash collision cannot invent a duplicate). Means are merged sums,
    equal to the local ones up to float rounding. The reference profile (ranges, categories)
    merges exactly; the drift profile's quantiles come from a mergeable sketch
    (:mod:`defectops.monitoring.sketch`). See :mod:`~defectops.engines.dask.validate`,
    :mod:`~defectops.engines.dask.counts`.
features
    The fitted :class:`~defectops.features.builder.FeatureBuilder` is applied per partition.
    Fitting it merges per-partition summaries
    (:meth:`~defectops.features.builder.FeatureBuilder.numeric_moments`,
    :meth:`~defectops.features.builder.FeatureBuilder.buckets_seen`), so the category codes are
    the ones a local fit gives.
training
    ``gbm`` only, by the local procedure's own rule. A chunk of fewer than
    ``CROSS_FIT_MAX_ROWS`` rows is gathered on the worker holding most of it and cross-fitted
    there exactly as the local engine does. A larger one is boosted by
    :class:`xgboost.dask.DaskXGBClassifier` on the partitions' feature matrices: the same
    parameters, the same stratified validation slice (drawn from the labels, one byte per row,
    gathered on the client), early stopping, and ``xgb_model=`` the previous booster for the
    warm-start strategy. The result is the usual
    :class:`~defectops.models.classifier.DefectClassifier`: Platt scaling and the threshold are
    fitted on the validation slice's margins, gathered as one float per row. See
    :mod:`~defectops.engines.dask.fit`.
scoring and the gate
    Hold-out and prequential scores are computed per partition and gathered (one float per row);
    evaluation, gate and registry run unchanged on those arrays
    (:mod:`~defectops.engines.dask.run`).

Rows are kept in order. With an order column, rows already in that order (as a plant's export
usually is) are checked and left where they are; others are sorted by a dask shuffle that equals
the local engine's stable sort (:mod:`~defectops.engines.dask.order`).

The validated rows wait as staged files, not in the cluster's memory: a task reads the partition
(only the columns) it needs, and a chunk is a description of row ranges over those files. A worker
holds the partitions its current tasks read and its share of the chunk being boosted; its memory
follows the chunk and partition sizes, not the data's. A small set read by every model (the
hold-out) is staged as files of its own (:mod:`~defectops.engines.dask.frame`).

Reading is :mod:`~defectops.engines.dask.read`, ``predict`` :mod:`~defectops.engines.dask.predict`,
``monitor`` and ``ingest`` :mod:`~defectops.engines.dask.batch`. Nothing is imported here, so a
module of the engine loads only what it needs.
"""
