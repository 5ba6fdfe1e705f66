#!/usr/bin/env bash
# ansible-test sanity on the collection as it is published: build it with ansible-galaxy, unpack it
# as ansible_collections/diffy/diffy in a temp dir, run every sanity test there (--local: this venv;
# ansible-test makes its own venvs for pylint, yamllint, ... from PyPI, cached under ~/.ansible/test).
#
#   scripts/sanity.sh [ansible-test sanity options, e.g. --test validate-modules]
#
# ansible-test bootstraps pip in those venvs with a get-pip script from a host this machine cannot
# reach; when that script is not cached, a stand-in is written that installs the same pinned pip
# from the interpreter's ensurepip and PyPI (named as such in the file).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DIFFY_VENV:-$repo/.venv}"
export PATH="$venv/bin:$PATH"

cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for version in 24.2; do
  script="$cache/get_pip_${version//./_}.py"
  [[ -f "$script" ]] || cat > "$script" <<PY
# STAND-IN for pip's get-pip.py $version bootstrap (its download host is unreachable here), written by
# Diffy's scripts/sanity.sh: pip from the interpreter's ensurepip, then pip==$version from PyPI.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "pip==$version"])
PY
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" "$repo" >/dev/null
mkdir -p "$work/ansible_collections/diffy/diffy"
tar -xzf "$work"/diffy-diffy-*.tar.gz -C "$work/ansible_collections/diffy/diffy"
cd "$work/ansible_collections/diffy/diffy"
timeout 1500 ansible-test sanity --local --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --color no "$@"
