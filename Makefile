# Two entry points: `make demo` (main job on the embedded default) and `make test`.
# Both create .venv on first use; torch is pinned to the CPU wheel (see ENV-NOTES). The peers extra (cornac,
# implicit) is part of it, so that the tests comparing negrec with them run wherever the suite runs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-all bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned, so nothing later can pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev,llm,peers]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/negrec demo --out runs/demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	# the slow set includes ZeRO-2/3 runs (skipped without DeepSpeed)
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev,llm,deepspeed]'
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev,llm,bench]'
	$(BIN)/python benchmarks/metrics_speed.py
	$(BIN)/python benchmarks/preference_throughput.py
	$(BIN)/python benchmarks/cf_speed.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/cf_scaling.py
	$(BIN)/python benchmarks/cf_quality.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/cf_hard_pools.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/grounding_speed.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/constrained_decoding.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/candidates_speed.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/llm_training_speed.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/sft_head_speed.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/title_ranking_speed.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}
	$(BIN)/python benchmarks/homework_holdout.py --data-dir $${NEGREC_DATA_DIR:-../shared/data}

clean:
	rm -rf $(VENV) runs build src/*.egg-info
