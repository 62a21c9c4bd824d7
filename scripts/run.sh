#!/usr/bin/env bash
# Install everything, check it, and start secondme on the packaged default models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/secondme doctor
exec .venv/bin/secondme "$@"
