# Two commands a new user needs:  `make demo` (set up, then vectorise + sample) and `make test`.
# Everything installs into .venv; nothing is needed beforehand but python3 (>= 3.10).
PYTHON ?= python3
VENV   ?= .venv
# A plain `torch` would pull a multi-GB CUDA build; pin the CPU build here. On a GPU machine:
#   make setup TORCH=torch
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin

.PHONY: setup demo test clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: setup
	mkdir -p out
	$(BIN)/sketchkit vectorize sketchkit/examples/cat.png -o out/cat.svg
	$(BIN)/sketchkit sample bezier --class pig -n 8 --seed 0 --temperature 0.15 --min-class-posterior 0.999 --best-of 8 -o out/bezier_pig.svg
	$(BIN)/sketchkit sample bezier --class ambulance -n 8 --seed 0 --temperature 0.15 --min-class-posterior 0.999 --best-of 8 -o out/bezier_ambulance.svg
	$(BIN)/sketchkit sample bezier --class face -n 8 --seed 0 --temperature 0.15 --min-class-posterior 0.999 --best-of 8 -o out/bezier_face.svg
	$(BIN)/sketchkit sample sketchode -n 16 --seed 0 --temperature 0.3 -o out/sketchode_samples.svg
	$(BIN)/sketchkit sample cloud2curve -n 16 --seed 0 --temperature 1.0 -o out/cloud2curve_samples.svg
	$(BIN)/sketchkit sample cloud2curve_kmnist --class 6 -n 8 --seed 0 --temperature 0.5 -o out/kmnist_ma.svg
	@echo "wrote out/cat.svg, out/bezier_{pig,ambulance,face}.svg, out/{sketchode,cloud2curve}_samples.svg and out/kmnist_ma.svg"

test: setup
	$(BIN)/python -m pytest -q -ra

clean:
	rm -rf $(VENV) out .pytest_cache
