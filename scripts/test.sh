#!/usr/bin/env bash
# Run Diffy's whole test suite on a fresh machine: set-up (scripts/setup.sh), then the linters and pytest side by side.
# Fails on any failing test, when no test ran, and (in CI, or with DIFFY_STRICT_SKIPS=1) when any test
# was skipped other than the opt-in real-Elasticsearch tests: the lab and browser tests must run.
# Extra arguments go to pytest (e.g. scripts/test.sh -k peers).
# Speed: the tests marked `lab` run in one pytest process, one after another (the lab fleets use fixed
# names and subnets); at the same time the other tests run in two more processes, the files that drive
# Ansible alternating between them (with extra arguments: lab and the rest, two processes);
# their output is printed when all are done (and kept in test-artifacts/pytest-*.log).
# DIFFY_TEST_SPLIT=0 runs everything in one process. (Not pytest-xdist: its `--dist loadgroup` silently ignores
# xdist_group under pytest 9.2, which would run two lab fleets at once.)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
"$repo/scripts/setup.sh"
venv="${DIFFY_VENV:-$repo/.venv}"
export PATH="$venv/bin:$PATH"
export ANSIBLE_DEPRECATION_WARNINGS=False

mkdir -p test-artifacts
# The linters run alongside the tests (their output is printed, and their failure fails the run, at
# the end): mypy on a fresh machine takes half a minute that the lab tests need not wait for.
lint() {
  echo "== ruff"
  ruff check .
  ruff format --check .
  echo "== lint-imports (stage layering: [tool.importlinter] in pyproject.toml)"
  lint-imports
  echo "== mypy (diffy_analysis: [tool.mypy] in pyproject.toml)"
  mypy
}
(set -e; lint) >test-artifacts/lint.log 2>&1 &
lint_pid=$!
# run_pytest NAME ARGS...: pytest writing JUnit XML to test-artifacts/junit-NAME.xml; returns its exit code.
run_pytest() {
  local name="$1"; shift
  python -m pytest -p no:cacheprovider --junitxml="test-artifacts/junit-$name.xml" "$@"
}
rm -f test-artifacts/junit*.xml
set +e
if [[ "${DIFFY_TEST_SPLIT:-1}" == 1 && $# -eq 0 ]]; then
  # Three processes: the lab tests; and the other tests in two halves. The files that drive Ansible or
  # collect localhost alternate between the halves (each test's collection is isolated: its own
  # results and host temp dirs, tests/collection_helpers.py), and the pure-Python files join the first.
  mapfile -t host_files < <(grep -lE 'run_playbook\(|ansible_runner|"collect"' tests/test_*.py)
  mapfile -t pure_files < <(grep -LE 'run_playbook\(|ansible_runner|"collect"' tests/test_*.py)
  first=("${pure_files[@]}") second=()
  for i in "${!host_files[@]}"; do
    if ((i % 2 == 0)); then first+=("${host_files[$i]}"); else second+=("${host_files[$i]}"); fi
  done
  echo "== pytest: lab tests here; ${#first[@]} and ${#second[@]} other files in two processes alongside (printed below when done)"
  run_pytest half2 -m "not lab" "${second[@]}" >test-artifacts/pytest-half2.log 2>&1 &
  half2_pid=$!
  run_pytest half1 -m "not lab" "${first[@]}" >test-artifacts/pytest-half1.log 2>&1 &
  half1_pid=$!
  run_pytest lab -m lab
  rc_lab=$?
  wait "$half2_pid"
  rc_half2=$?
  wait "$half1_pid"
  rc_half1=$?
  echo "== pytest: the second half of the tests not marked lab (test-artifacts/pytest-half2.log)"
  cat test-artifacts/pytest-half2.log
  echo "== pytest: the first half of the tests not marked lab (test-artifacts/pytest-half1.log)"
  cat test-artifacts/pytest-half1.log
  runs=(lab:$rc_lab half1:$rc_half1 half2:$rc_half2)
elif [[ "${DIFFY_TEST_SPLIT:-1}" == 1 ]]; then
  echo "== pytest: lab tests here, the others alongside (printed below when done)"
  run_pytest other -m "not lab" "$@" >test-artifacts/pytest-other.log 2>&1 &
  other_pid=$!
  run_pytest lab -m lab "$@"
  rc_lab=$?
  wait "$other_pid"
  rc_other=$?
  echo "== pytest: the tests not marked lab (test-artifacts/pytest-other.log)"
  cat test-artifacts/pytest-other.log
  runs=(lab:$rc_lab other:$rc_other)
else
  echo "== pytest"
  run_pytest all "$@"
  runs=(all:$?)
fi
set +e
wait "$lint_pid"
rc_lint=$?
set -e
cat test-artifacts/lint.log
if [[ $rc_lint -ne 0 ]]; then
  echo "the linters failed with exit code $rc_lint (test-artifacts/lint.log)" >&2
fi

ran=() failed=0
for run in "${runs[@]}"; do
  name="${run%%:*}" rc="${run##*:}"
  if [[ $rc -eq 5 ]]; then
    continue  # this half collected nothing (e.g. -k selected only lab tests): fine if the other ran
  fi
  ran+=("test-artifacts/junit-$name.xml")
  if [[ $rc -ne 0 ]]; then
    echo "pytest ($name) failed with exit code $rc" >&2
    failed=$rc
  fi
done
if ((${#ran[@]} == 0)); then
  echo "pytest collected no tests: failing (a run that tests nothing must not pass)" >&2
  exit 1
fi
# One test-artifacts/junit.xml for the whole run, as before the split.
python - "${ran[@]}" <<'PY'
import sys
import xml.etree.ElementTree as ET

merged = ET.Element("testsuites")
for path in sys.argv[1:]:
    root = ET.parse(path).getroot()
    merged.extend(root.iter("testsuite"))
ET.ElementTree(merged).write("test-artifacts/junit.xml", encoding="utf-8", xml_declaration=True)
PY
[[ $failed -eq 0 ]] || exit "$failed"
[[ $rc_lint -eq 0 ]] || exit "$rc_lint"

if [[ "${CI:-}" == "true" || "${DIFFY_STRICT_SKIPS:-0}" == 1 ]]; then
  python "$repo/scripts/check_skips.py" test-artifacts/junit.xml
fi
