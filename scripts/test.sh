#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite, the tests marked slow included
# (a plain `python -m pytest` skips them, see pyproject.toml). Options pass on to pytest:
# `bash scripts/test.sh -k keras`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest -n 2 -m "slow or not slow" "$@"
