# A fresh clone needs only python3 and make: every target creates and uses .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_SEED ?= 20250301
DEMO_WAVE := 2025w1
DEMO_WAVE2 := 2026w1
DEMO_SEED2 ?= 20260301
DEMO_DIR := data/demo/$(DEMO_WAVE)
DEMO_DIR2 := data/demo/$(DEMO_WAVE2)

.PHONY: demo test bench venv clean-demo

# Let Python cache compiled bytecode (the git-ignored __pycache__ folders) where the environment turns it off:
# every kernel of a run and every test process imports cmlkit's modules, and compiling them again in each
# costs about 0.1 s of CPU per kernel and 1.5 s per pytest worker (assertion rewriting).
unexport PYTHONDONTWRITEBYTECODE

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cmlkit synth --seed $(DEMO_SEED) --out $(DEMO_DIR)
	$(BIN)/cmlkit run pipelines/wave.yml --instrument cml_library --wave $(DEMO_WAVE) \
	    --input library_export=$(DEMO_DIR)/exports/cml_library_surveymonkey.csv \
	    --input volunteer_export=$(DEMO_DIR)/exports/cml_volunteer_qualtrics.csv \
	    --input user_export=$(DEMO_DIR)/exports/cml_user_singleheader.csv \
	    --input frame=$(DEMO_DIR)/frame.csv
	$(BIN)/cmlkit synth --wave $(DEMO_WAVE2) --previous $(DEMO_DIR) --seed $(DEMO_SEED2) --out $(DEMO_DIR2)
	$(BIN)/cmlkit run pipelines/wave.yml --instrument cml_library --wave $(DEMO_WAVE2) \
	    --input library_export=$(DEMO_DIR2)/exports/cml_library_surveymonkey.csv \
	    --input volunteer_export=$(DEMO_DIR2)/exports/cml_volunteer_qualtrics.csv \
	    --input frame=$(DEMO_DIR2)/frame.csv
	$(BIN)/cmlkit waves runs --instrument cml_library $(DEMO_WAVE) $(DEMO_WAVE2) --out data/demo/trend_runs.yml
	$(BIN)/cmlkit run pipelines/trend.yml --instrument cml_library --wave $(DEMO_WAVE2) --input runs=data/demo/trend_runs.yml
	@echo "trend outputs (findings, figures, panel, drift): outputs/cml_library/$(DEMO_WAVE2)/trend/$$(cat outputs/cml_library/$(DEMO_WAVE2)/trend/LATEST)"
	@echo "report: outputs/cml_library/$(DEMO_WAVE)/wave/$$(cat outputs/cml_library/$(DEMO_WAVE)/wave/LATEST)/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=15

BENCH_SIZES ?= 1000 10000 100000 1000000

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_clean.py --sizes $(BENCH_SIZES) --out benchmarks/results/bench_clean.json
	$(BIN)/python benchmarks/bench_coverage.py --out benchmarks/results/bench_coverage.json
	$(BIN)/python benchmarks/bench_governance.py --out benchmarks/results/bench_governance.json

clean-demo:
	rm -rf $(DEMO_DIR) $(DEMO_DIR2) data/demo/trend_runs.yml
