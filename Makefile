# Two commands do everything on a fresh machine: `make eval` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

MODEL ?= reference
PROMPT ?= fastapi-backend-engineer@v1
TASKS ?= all
SAMPLES ?= 1
DB ?= postgres,mysql
RUNTIME ?= auto
# EXECUTOR=ray grades on a Ray cluster (RAY_ADDRESS=host:port, else a Ray on this machine).
EXECUTOR ?= threads
RAY_ADDRESS ?=
# OFFLINE=1: `make images` builds the docker runtime's images from Debian packages.
OFFLINE ?=
# The suite runs one worker per core (pytest-xdist), each file on one worker so its
# module-wide fixtures (the corpus, the null agents) are graded once.
PYTEST_ARGS ?= -n auto --dist loadfile
# Optional: a cost cap in USD, NO_CACHE=1 to ask the model again, sampling parameters.
MAX_COST ?=
NO_CACHE ?=
TEMPERATURE ?=
MAX_TOKENS ?=
SEED ?=
# ROUNDS=N: N answers per sample, each graded; the model sees the boot log and a smoke
# check between them (README, "Rounds").
ROUNDS ?=
# make nightly: the nightly.yaml to use, and BLESS=1 to bless tonight's runs afterwards.
CONFIG ?= nightly.yaml
BLESS ?=
EVAL_FLAGS = $(if $(MAX_COST),--max-cost $(MAX_COST)) $(if $(NO_CACHE),--no-cache) \
	$(if $(TEMPERATURE),--temperature $(TEMPERATURE)) \
	$(if $(MAX_TOKENS),--max-tokens $(MAX_TOKENS)) $(if $(SEED),--seed $(SEED)) \
	$(if $(ROUNDS),--rounds $(ROUNDS))

.PHONY: setup system-deps browser-deps runtime docker images claude-code eval report compare nightly test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

runtime: $(STAMP)
	$(BIN)/harness runtime prepare

setup: system-deps $(STAMP) runtime

docker:
	bash scripts/start-docker.sh

images: docker $(STAMP)
	$(BIN)/harness images build $(if $(OFFLINE),--offline)

# The Claude Code CLI (pinned npm package) MODEL=claude-code: runs, in the harness's cache.
claude-code: system-deps $(STAMP)
	$(BIN)/harness claude-code install

eval: setup
	$(BIN)/harness eval --model '$(MODEL)' --prompt '$(PROMPT)' --tasks '$(TASKS)' \
		--samples $(SAMPLES) --db '$(DB)' --runtime '$(RUNTIME)' \
		--executor '$(EXECUTOR)' $(if $(RAY_ADDRESS),--ray-address '$(RAY_ADDRESS)') $(EVAL_FLAGS)

report: $(STAMP)
	$(BIN)/harness report --csv --json

# make compare A=results/<run_a> B=results/<run_b>   (or A=prompt=agent@v1 B=prompt=agent@v2)
compare: $(STAMP)
	$(BIN)/harness compare '$(A)' '$(B)' --html results/compare.html

# Evaluate, compare with the blessed baseline, write results/nightly/latest/{summary.md,
# summary.html,junit.xml,nightly.json}. `harness nightly` exits 0 (no regression), 1 (a
# regression), 2 (configuration), 3 (infrastructure); make turns any failure into 2, and
# nightly.json's exit_code keeps the harness's own.
nightly: setup
	$(BIN)/harness nightly --config '$(CONFIG)' $(if $(BLESS),--bless)

# Headless Chromium for the leaderboard's browser test (Debian's package).
browser-deps:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "the browser test needs Chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check harness tests bench
	$(BIN)/ruff format --check harness

typecheck: $(STAMP)
	$(BIN)/mypy

test: setup browser-deps lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/grade_reference.py
	$(BIN)/python bench/leaderboard_build.py
	$(BIN)/python bench/docker_boot.py

clean:
	rm -rf $(VENV) results/*/ results/leaderboard.html results/leaderboard.csv \
		results/leaderboard.json results/compare.html
