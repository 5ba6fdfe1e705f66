#!/usr/bin/env bash
# Run Diffy's whole test suite on a fresh machine: set-up (scripts/setup.sh), linters, then pytest.
# Fails on any failing test, when no test ran, and (in CI, or with DIFFY_STRICT_SKIPS=1) when any test
# was skipped other than the opt-in real-Elasticsearch tests: the lab and browser tests must run.
# Extra arguments go to pytest (e.g. scripts/test.sh -k peers).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
"$repo/scripts/setup.sh"
venv="${DIFFY_VENV:-$repo/.venv}"
export PATH="$venv/bin:$PATH"
export ANSIBLE_DEPRECATION_WARNINGS=False

echo "== ruff"
ruff check .
ruff format --check .

echo "== lint-imports (stage layering: [tool.importlinter] in pyproject.toml)"
lint-imports

echo "== mypy (diffy_analysis: [tool.mypy] in pyproject.toml)"
mypy

echo "== pytest"
mkdir -p test-artifacts
set +e
python -m pytest -p no:cacheprovider --junitxml=test-artifacts/junit.xml "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: failing (a run that tests nothing must not pass)" >&2
  exit 1
fi
[[ $rc -eq 0 ]] || exit "$rc"

if [[ "${CI:-}" == "true" || "${DIFFY_STRICT_SKIPS:-0}" == 1 ]]; then
  python "$repo/scripts/check_skips.py" test-artifacts/junit.xml
fi
