#!/usr/bin/env bash
# Build the documentation site into docs/_build/html, every warning an error.
# Needs the docs extra: pip install ".[docs]"  (from the repository root).
# Extra arguments go to sphinx-build (e.g. -E for a clean environment).
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
cd "$docs"
rm -rf generated
python -m sphinx -W --keep-going -n -b html -j 1 "$@" . _build/html
echo "docs: open $docs/_build/html/index.html"
