# A fresh clone needs only python3 and make: every target creates and uses .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_SEED ?= 20250301
DEMO_DIR := data/demo/2025w1

.PHONY: demo test bench venv clean-demo

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cmlkit synth --seed $(DEMO_SEED) --out $(DEMO_DIR)
	$(BIN)/cmlkit run pipelines/wave.yml --instrument cml_library --wave 2025w1 \
	    --input library_export=$(DEMO_DIR)/exports/cml_library_surveymonkey.csv \
	    --input volunteer_export=$(DEMO_DIR)/exports/cml_volunteer_qualtrics.csv \
	    --input user_export=$(DEMO_DIR)/exports/cml_user_singleheader.csv \
	    --input frame=$(DEMO_DIR)/frame.csv
	@echo "report: outputs/cml_library/2025w1/wave/$$(cat outputs/cml_library/2025w1/wave/LATEST)/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

BENCH_SIZES ?= 1000 10000 100000 1000000

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_clean.py --sizes $(BENCH_SIZES) --out benchmarks/results/bench_clean.json
	$(BIN)/python benchmarks/bench_coverage.py --out benchmarks/results/bench_coverage.json
	$(BIN)/python benchmarks/bench_governance.py --out benchmarks/results/bench_governance.json

clean-demo:
	rm -rf $(DEMO_DIR)
