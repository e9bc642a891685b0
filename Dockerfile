# syntax=docker/dockerfile:1
#
# Images of defectops, one file, three targets:
#
#   service        (the default) the prediction service: `defectops serve` on port 8000
#   trainer        the defectops CLI (`run`, `evaluate`, `promote`, ...): the training job
#   mlflow-server  an MLflow tracking server with the PostgreSQL driver, same MLflow version
#
#   docker build --target service --build-arg MODEL_DIR=artifacts/production -t defectops .
#   docker build --target trainer -t defectops-trainer .
#
# The service's champion is either baked in at build time (MODEL_DIR: a project's
# artifacts/production directory, relative to the build context) or, with the default
# MODEL_DIR (docker/no-model: nothing), fetched at start from the MLflow server named by
# DEFECTOPS_TRACKING_URI (the `champion` alias).
#
# Docker cannot run on the machine these files were written on: they were checked statically
# (hadolint and tests/test_ci_files.py), and the same topology without Docker is tested for
# real by tests/test_postgres_topology.py.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- builder: the virtual environments, built once ---------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
# defectops with its runtime dependencies only (no dev extras)
RUN python -m venv /opt/defectops \
    && /opt/defectops/bin/pip install --no-cache-dir . \
    && /opt/defectops/bin/defectops --help > /dev/null
# the tracking server: the MLflow version defectops resolved, plus the PostgreSQL driver
RUN python -m venv /opt/mlflow \
    && /opt/mlflow/bin/pip install --no-cache-dir \
        "mlflow==$(/opt/defectops/bin/python -c 'import mlflow; print(mlflow.__version__)')" \
        "psycopg2-binary>=2.9,<3"

# -- runtime: slim base, a non-root user, the environment, nothing else -------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/defectops/bin:$PATH \
    MLFLOW_DISABLE_TELEMETRY=true \
    DEFECTOPS_ARTIFACTS=/srv/artifacts
RUN groupadd --system --gid 10001 defectops \
    && useradd --system --uid 10001 --gid defectops --home-dir /srv --shell /usr/sbin/nologin defectops \
    && mkdir -p /srv/artifacts/production /srv/data \
    && chown -R defectops:defectops /srv
COPY --from=builder /opt/defectops /opt/defectops
WORKDIR /srv

# -- trainer: the CLI; `docker run IMAGE run --data /srv/data/line.csv` ----------------------------
FROM runtime AS trainer
USER 10001:10001
VOLUME ["/srv/artifacts"]
ENTRYPOINT ["defectops"]
CMD ["--help"]

# -- mlflow-server: tracking server; the backend store and artifact root come from the command -----
FROM ${PYTHON_IMAGE} AS mlflow-server
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/mlflow/bin:$PATH \
    MLFLOW_DISABLE_TELEMETRY=true
RUN groupadd --system --gid 10002 mlflow \
    && useradd --system --uid 10002 --gid mlflow --home-dir /mlflow --shell /usr/sbin/nologin mlflow \
    && mkdir -p /mlflow/artifacts \
    && chown -R mlflow:mlflow /mlflow
COPY --from=builder /opt/mlflow /opt/mlflow
USER 10002:10002
WORKDIR /mlflow
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4).status == 200 else 1)"]
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]

# -- service (default target): the prediction service ---------------------------------------------
FROM runtime AS service
# a project's artifacts/production (champion model, metadata.json, feature_schema.json)
ARG MODEL_DIR=docker/no-model
COPY --chown=10001:10001 ${MODEL_DIR}/ /srv/artifacts/production/
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4).status == 200 else 1)"]
CMD ["defectops", "serve", "--host", "0.0.0.0", "--port", "8000"]
