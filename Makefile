# modelship — developer and CI entry points. Every target works on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
CLUSTER_PY  := PYTHONPATH=e2e $(PY) -m modelship_testing.cluster
export MODELSHIP_CACHE ?= $(HOME)/.cache/modelship

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

.PHONY: setup
setup: $(VENV)/.installed system-deps ## install Python dependencies and system packages

.PHONY: system-deps
system-deps: ## install the Debian packages the tests need (Prometheus, openssl)
	@bash hack/system-deps.sh

.PHONY: cluster-bin
cluster-bin: ## build etcd, the Kubernetes binaries, kwok, helm and modelship-health from Go modules (cached)
	bash e2e/cluster/build.sh

.PHONY: check-cold-build
check-cold-build: cluster-bin ## prove the build fetches what it reads: empty module cache, binaries only
	bash hack/check-cold-build.sh

.PHONY: argocd-cm
argocd-cm: $(VENV)/.installed cluster-bin ## render deploy/argocd/argocd-cm.yaml (Argo CD health checks) from the chart
	PYTHONPATH=e2e $(PY) -m modelship_testing.health argocd-cm

.PHONY: health-table
health-table: setup cluster-bin ## measure docs/gitops.md's health tables on the local cluster and record tests/health/
	MODELSHIP_HEALTH_RECORD=1 $(PY) -m pytest -q -p no:cacheprovider tests/integration/test_health.py

.PHONY: cluster-up
cluster-up: setup cluster-bin ## start the local control plane, KWOK nodes and Prometheus (idempotent)
	$(CLUSTER_PY) up

.PHONY: cluster-down
cluster-down: ## stop every local cluster process and remove its state
	@if [ -x $(PY) ]; then $(CLUSTER_PY) down; else echo "no virtualenv: nothing to stop"; fi

.PHONY: cluster-status
cluster-status: ## show the local cluster's processes and endpoints
	$(CLUSTER_PY) status

.PHONY: demo
demo: setup cluster-bin ## local cluster + operator: canaries promoted and rolled back, then drift → retrain → evaluate → canary → promote
	$(CLUSTER_PY) up
	PYTHONPATH=e2e $(PY) e2e/demo.py

.PHONY: demo-down
demo-down: ## stop everything the demo started, the local cluster included
	@if [ -f .demo/operator.pid ]; then kill $$(cat .demo/operator.pid) 2>/dev/null || true; fi
	rm -rf .demo
	$(MAKE) cluster-down

.PHONY: crds
crds: $(VENV)/.installed ## regenerate crds/ and the chart's CRDs from the API models
	$(PY) -m modelship.cli crds --out crds --chart charts/modelship/crds --docs docs/resources.md

# Generated code is committed (the package installs without a build step; the image and
# `pip install -e` run no protoc); a unit test fails when it differs from this target's output.
.PHONY: grpc-stubs
grpc-stubs: $(VENV)/.installed ## regenerate the gRPC stubs in operator/modelship/server/oip/ from its .proto
	cd operator && ../$(PY) -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. \
	  modelship/server/oip/open_inference.proto

.PHONY: lint
lint: $(VENV)/.installed ## ruff, mypy, the layering contract (import-linter) and the image definitions (hadolint)
	$(VENV)/bin/ruff check operator tests e2e bench examples
	$(VENV)/bin/ruff format --check operator tests e2e bench examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint images/*/Dockerfile

.PHONY: fmt
fmt: $(VENV)/.installed ## format the code
	$(VENV)/bin/ruff check --fix operator tests e2e bench
	$(VENV)/bin/ruff format operator tests e2e bench

.PHONY: bench-serving
bench-serving: $(VENV)/.installed system-deps ## serving: modelship (1 and 2 workers) vs MLServer, KServe, BentoML and the HTTP floor (needs wrk)
	$(PY) bench/serving/run.py

.PHONY: bench-scale
bench-scale: setup cluster-bin ## operator at scale: 1,000 canaries as Argo Rollouts (built from its Go module, cached) and as ModelDeployments side by side, then two shards of 2,000
	$(CLUSTER_PY) up
	$(PY) bench/scale/run.py --count 1000 --argo-rollouts
	$(PY) bench/scale/run.py --count 2000 --shards 2

.PHONY: test-unit
test-unit: $(VENV)/.installed ## unit tests only: no cluster, no Prometheus
	$(PY) -m pytest tests/unit -q

.PHONY: test
test: setup cluster-bin ## everything: lint, unit, integration and end-to-end tests on the local cluster
	$(MAKE) lint
	$(CLUSTER_PY) up
	$(PY) -m pytest -q -p no:cacheprovider -m 'not faults'; status=$$?; \
	  [ "$$MODELSHIP_KEEP_CLUSTER" = 1 ] || $(CLUSTER_PY) down; exit $$status

.PHONY: test-chaos
test-chaos: setup cluster-bin ## the fault suite on the local cluster: operator kills, control-plane restarts, Prometheus flapping, 409/429 (~9 min)
	$(CLUSTER_PY) up
	$(PY) -m pytest -q -p no:cacheprovider -m faults tests/integration; status=$$?; \
	  [ "$$MODELSHIP_KEEP_CLUSTER" = 1 ] || $(CLUSTER_PY) down; exit $$status
