#!/usr/bin/env bash
# Install secondme with its test tools, lint and type-check, then run the whole test suite (Qt offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
.venv/bin/ruff check .
.venv/bin/mypy
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest "$@"
