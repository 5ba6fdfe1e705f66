#!/usr/bin/env bash
# Set up everything Diffy needs on a fresh Debian/Ubuntu machine: system packages (when root),
# a virtual environment in .venv with Diffy and its test tools.  Safe to run again: it only does
# what is missing.  Used by scripts/demo.sh and scripts/test.sh; CI runs it through scripts/test.sh.
#
#   DIFFY_VENV=path      use another venv location (default: <repo>/.venv)
#   DIFFY_SKIP_APT=1     never touch system packages
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DIFFY_VENV:-$repo/.venv}"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# System packages: sshd and iproute2 for the lab fleet, iptables for real firewall rules in lab
# hosts, nftables (`nft -j list ruleset`) for the firewall query on nftables hosts, Chromium for the
# report browser test, dpkg-dev for building the stand-in osqueryi .deb, Java 17 for
# ansible-rulebook's rule engine (Drools; docs/service.md).
apt_packages=(openssh-server iproute2 iptables nftables procps chromium chromium-driver dpkg-dev cron openjdk-17-jre-headless)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ "${DIFFY_SKIP_APT:-0}" == 1 ]]; then
    say "not installing system packages (DIFFY_SKIP_APT=1): ${missing[*]}"
  elif [[ $(id -u) -eq 0 ]]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # One apt at a time on a shared machine: every apt call holds /tmp/diffy-apt.lock.
    flock /tmp/diffy-apt.lock timeout 600 apt-get update -qq >/dev/null
    flock /tmp/diffy-apt.lock timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "not root: cannot install ${missing[*]} (the lab fleet and browser tests need them)"
  fi
fi

# Python: a venv with Diffy (editable), its test extras and the dev tooling in tools/ (the fleet
# generator and the lab: a separate distribution, never in Diffy's wheel).  Re-installed only when pyproject changes.
python="${DIFFY_PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "Python >= 3.11 is required (found $("$python" --version 2>&1))"; exit 2
fi
if [[ ! -x "$venv/bin/python" ]]; then
  say "creating virtual environment $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.diffy-installed"
want="$(cat "$repo/pyproject.toml" "$repo/tools/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing Python dependencies into $venv (first time: about a minute)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "is ignored" || true
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$repo[test]" -e "$repo/tools" 2>&1 | grep -v -e "is ignored" -e "^\s*$" || true
  "$venv/bin/python" -c 'import diffy_analysis, diffy_lab, diffy_fleetgen, ansible_runner, scipy, pandas' \
    || { say "Python dependencies failed to install"; exit 2; }
  echo "$want" > "$stamp"
fi
say "ready: $venv"
