# Every target creates .venv itself and installs what it needs: no step by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: demo test test-prefect venv lint format clean help swagger-ui
.PHONY: postgres-server ci-build ci-test ci-train ci-evaluate ci-release ci-deploy image image-trainer image-push

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# an environment made before the CPU build of XGBoost was a dependency holds the full wheel,
# whose files the CPU build would overwrite: remove it first (on Linux x86_64, which takes it)
DROP_GPU_XGBOOST := $(BIN)/python -c "import platform, sys; \
	sys.exit(not (sys.platform == 'linux' and platform.machine() == 'x86_64'))" \
	&& $(BIN)/python -m pip uninstall --quiet --yes xgboost nvidia-nccl-cu12 2>/dev/null; true

$(VENV)/.run: pyproject.toml | $(BIN)/python
	@$(DROP_GPU_XGBOOST)
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	@$(DROP_GPU_XGBOOST)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.run

$(VENV)/.all: pyproject.toml | $(BIN)/python
	@$(DROP_GPU_XGBOOST)
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	@touch $@ $(VENV)/.dev $(VENV)/.run

demo: $(VENV)/.run  ## simulate the demo line data and run the main job on it
	$(BIN)/defectops demo

# .ci/scratch-tmp: the suite's temporary files go to a directory of their own, removed afterwards
test: $(VENV)/.dev  ## run the whole test suite (the Prefect flow's test in its own environment)
	bash .ci/scratch-tmp $(BIN)/python -m pytest $(PYTEST_ARGS)
	bash .ci/scratch-tmp $(MAKE) test-prefect

# Prefect 3.9 caps FastAPI below 0.151, so its flow is tested in an environment of its own and
# the service keeps being tested on current FastAPI in .venv
PREFECT_VENV := .venv-prefect
$(PREFECT_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(PREFECT_VENV)
	$(PREFECT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PREFECT_VENV)/bin/python -m pip install --quiet -e '.[prefect]' 'pytest>=8'
	@touch $@

test-prefect: $(PREFECT_VENV)/.installed  ## the Prefect flow's test, with Prefect installed
	$(PREFECT_VENV)/bin/python -m pytest -p no:cacheprovider tests/integration/ops/test_prefect_flow.py

venv: $(VENV)/.all  ## just the environment, with every extra

lint: $(VENV)/.dev  ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/defectops

format: $(VENV)/.dev  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Swagger UI for /docs lives in the package (a plant network has no CDN); this fetches it again
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI_SHA256  := 1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6
SWAGGER_UI_DIR     := src/defectops/serving/static/swagger-ui
swagger-ui:  ## re-fetch the vendored Swagger UI files (npm's swagger-ui-dist, checksum checked)
	tmp=$$(mktemp -d) && \
	curl -fsSL -o $$tmp/ui.tgz https://registry.npmjs.org/swagger-ui-dist/-/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz && \
	echo "$(SWAGGER_UI_SHA256)  $$tmp/ui.tgz" | sha256sum -c - && \
	tar -xzf $$tmp/ui.tgz -C $$tmp && \
	cp $$tmp/package/swagger-ui-bundle.js $$tmp/package/swagger-ui-bundle.js.LICENSE.txt \
	   $$tmp/package/swagger-ui.css $$tmp/package/favicon-32x32.png \
	   $$tmp/package/LICENSE $$tmp/package/NOTICE $(SWAGGER_UI_DIR)/ && \
	rm -rf $$tmp

clean:  ## remove the environment and everything the demo and the CI targets wrote
	rm -rf $(VENV) $(PREFECT_VENV) artifacts data/demo .pytest_cache .mypy_cache .ruff_cache
	rm -rf $(CI_ARTIFACTS) data/ci coverage.xml .coverage htmlcov test-results

# -- CI/CD --------------------------------------------------------------------------------------
# Each stage of every pipeline (.gitlab-ci.yml, Jenkinsfile, .circleci/config.yml,
# .github/workflows/pipeline.yml) runs exactly one of these targets: what a stage does is defined
# here once. Settings come from DEFECTOPS_* variables (e.g. DEFECTOPS_TRACKING_URI) or CI_CONFIG;
# secrets (REGISTRY_TOKEN, DEFECTOPS_ADMIN_TOKEN, MLFLOW_TRACKING_PASSWORD) from the CI's secret
# variables, never from a file.
CI_ARTIFACTS   ?= ci-artifacts
CI_DATA        ?= data/ci/line.csv
CI_CONFIG      ?=
CI_RUN_ARGS    ?=
DOCKER         ?= docker
IMAGE          ?= defectops
IMAGE_REGISTRY ?=
IMAGE_TAG      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
IMAGE_NAME      = $(if $(IMAGE_REGISTRY),$(IMAGE_REGISTRY)/)$(IMAGE)
# the champion baked into the service image; without one it loads from DEFECTOPS_TRACKING_URI
MODEL_DIR      ?= $(if $(wildcard $(CI_ARTIFACTS)/production/metadata.json),$(CI_ARTIFACTS)/production,docker/no-model)
CONFIG_FLAG     = $(if $(CI_CONFIG),--config $(CI_CONFIG))

ci-build: lint  ## CI build stage: install with the dev extras, ruff, mypy, hadolint
	@if [ -x $(BIN)/hadolint ]; then $(BIN)/hadolint Dockerfile; \
	else echo "hadolint: no binary for this platform; tests/integration/cli/test_ci_files.py checks the Dockerfile"; fi

postgres-server:  ## install PostgreSQL's server programs when missing (tests/integration/registry/test_postgres_topology.py)
	bash .ci/install-postgres.sh

ci-test: $(VENV)/.dev postgres-server  ## CI test stage: the suite, coverage.xml, htmlcov/, test-results/junit.xml
	$(BIN)/python -m pytest $(PYTEST_ARGS) --cov=defectops --cov-report=term \
		--cov-report=xml:coverage.xml --cov-report=html:htmlcov --junitxml=test-results/junit.xml

data/ci/line.csv: | $(VENV)/.run  # the default CI_DATA: a simulated line, until you set yours
	$(BIN)/defectops simulate --rows 6000 --out $@

ci-train: $(VENV)/.run $(CI_DATA)  ## CI train stage: defectops run on CI_DATA into CI_ARTIFACTS
	$(BIN)/defectops run --data $(CI_DATA) --artifacts $(CI_ARTIFACTS) $(CONFIG_FLAG) $(CI_RUN_ARGS)

ci-evaluate: $(VENV)/.run  ## CI evaluate stage: exit 3 when the newest model fails acceptance
	$(BIN)/defectops evaluate --artifacts $(CI_ARTIFACTS) $(CONFIG_FLAG)

ci-release: ci-evaluate  ## promote the gate's champion (verified again) and write the model card
	$(BIN)/defectops promote "$$($(BIN)/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' $(CI_ARTIFACTS)/production/metadata.json)" \
		--reason "released by CI ($(IMAGE_TAG))" --artifacts $(CI_ARTIFACTS) $(CONFIG_FLAG)
	$(BIN)/defectops report --artifacts $(CI_ARTIFACTS) $(CONFIG_FLAG)

ci-deploy: ci-release image-push  ## CI deploy stage (main only): release, then build and push

image:  ## build the service image (MODEL_DIR baked in; docker/no-model: load from MLflow)
	$(DOCKER) build --target service --build-arg MODEL_DIR=$(MODEL_DIR) \
		--tag $(IMAGE_NAME):$(IMAGE_TAG) .

image-trainer:  ## build the trainer image (the defectops CLI)
	$(DOCKER) build --target trainer --tag $(IMAGE_NAME)-trainer:$(IMAGE_TAG) .

image-push:  ## build and push the service image (IMAGE_REGISTRY, REGISTRY_USER, REGISTRY_TOKEN)
	@test -n "$(IMAGE_REGISTRY)" || { echo "error: set IMAGE_REGISTRY, e.g. registry.example.com/team" >&2; exit 2; }
	@test -n "$$REGISTRY_TOKEN" || { echo "error: REGISTRY_TOKEN is empty; define it as a secret CI variable" >&2; exit 2; }
	$(MAKE) --no-print-directory image
	@printf '%s' "$$REGISTRY_TOKEN" | $(DOCKER) login --username "$$REGISTRY_USER" --password-stdin $(firstword $(subst /, ,$(IMAGE_REGISTRY)))
	$(DOCKER) push $(IMAGE_NAME):$(IMAGE_TAG)
