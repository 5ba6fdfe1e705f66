#!/usr/bin/env bash
# Diffy's main job in one command, on a fresh machine:
#   set up (scripts/setup.sh), bring up a local lab fleet (8 namespaced hosts behind a moto EC2 API,
#   one of them compromised), collect app_x through Ansible (the real aws_ec2 inventory plugin, SSH,
#   ansible-runner), print the ranked outliers, write an HTML report, tear the lab down.
# Without root (no lab possible) it collects this machine through inventory/localhost.yml instead,
# and says why.
#
#   DIFFY_DEMO_DIR=path        where results and the report go (default: ./diffy-results/demo)
#   DIFFY_DEMO_COMPROMISE=host the lab host to compromise (default: app-x-04)
#   DIFFY_DEMO_BASELINE=1      also save a functional baseline from a clean host and diff against it
#   DIFFY_DEMO_NO_LAB=1        skip the lab: collect this machine (what happens without root)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out="${DIFFY_DEMO_DIR:-$repo/diffy-results/demo}"
victim="${DIFFY_DEMO_COMPROMISE:-app-x-04}"
lab_name=demo
started=$SECONDS

bold=$'\033[1m' dim=$'\033[2m' cyan=$'\033[1;36m' green=$'\033[1;32m' red=$'\033[1;31m' reset=$'\033[0m'
if [[ ! -t 1 || -n "${NO_COLOR:-}" ]]; then bold='' dim='' cyan='' green='' red='' reset=''; fi
step() { printf '\n%s==> %s%s\n' "$cyan" "$*" "$reset"; }
note() { printf '%s    %s%s\n' "$dim" "$*" "$reset"; }

step "Setting up (scripts/setup.sh: system packages, .venv)"
"$repo/scripts/setup.sh"
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_DEPRECATION_WARNINGS=False
(umask 077 && mkdir -p "$out")  # under diffy-results/ by default: git-ignored; 0700
results="$out/results"
report="$out/report.html"

latest_run() { find "$results" -mindepth 1 -maxdepth 1 -type d -name '2*' | sort | tail -n 1; }

# The analysis exits 1 when it finds outliers: that is the expected outcome here, not a failure.
analyse_exit_ok() { [[ $1 -eq 0 || $1 -eq 1 ]]; }

if [[ "${DIFFY_DEMO_NO_LAB:-0}" == 1 ]]; then
  lab_ok=false reason="DIFFY_DEMO_NO_LAB=1"
elif reason=$(diffy lab check 2>&1); then
  lab_ok=true
else
  lab_ok=false
fi

if $lab_ok; then
  trap 'step "Tearing the lab down"; diffy lab down --name "$lab_name" || true' EXIT

  step "Bringing up the lab: 6 app_x + 2 app_y hosts, $victim compromised"
  note "each host: own network/PID/mount/UTS namespaces, sshd, /etc; moto plays EC2; no route off this machine"
  diffy lab up --name "$lab_name" --apps app_x=6,app_y=2 --compromise "$victim"
  inventory=$(diffy lab status --name "$lab_name" --json | python -c 'import json,sys; print(json.load(sys.stdin)["inventory"])')
  victim_id=$(diffy lab status --name "$lab_name" --json |
    python -c 'import json,sys; print([h["instance_id"] for h in json.load(sys.stdin)["hosts"] if h["name"]==sys.argv[1]][0])' "$victim")

  step "Collecting app_x through Ansible and analysing: diffy run -l app_x"
  note "ansible-runner -> ansible-playbook playbooks/collect.yml -> aws_ec2 inventory (moto) -> SSH -> native collector"
  set +e
  diffy lab exec --name "$lab_name" -- diffy run -l app_x -i "$inventory" --collector native \
    --results-root "$results"
  rc=$?
  set -e
  analyse_exit_ok "$rc" || { printf '%sdiffy run failed (exit %s)%s\n' "$red" "$rc" "$reset"; exit 2; }
  run_dir=$(latest_run)

  if [[ "${DIFFY_DEMO_BASELINE:-0}" == 1 ]]; then
    fresh_id=$(diffy lab status --name "$lab_name" --json |
      python -c 'import json,sys; print([h["instance_id"] for h in json.load(sys.stdin)["hosts"] if h["name"]=="app-x-01"][0])')
    step "Saving a functional baseline from a clean host (app-x-01) and diffing the fleet against it"
    diffy lab exec --name "$lab_name" -- diffy baseline save app_x demo-fresh -l "$fresh_id" -i "$inventory" \
      --collector native --results-root "$results" --force
    set +e
    diffy-analyze "$run_dir" --baseline demo-fresh --results-root "$results" -q
    set -e
  fi
else
  step "The lab cannot run here: $reason"
  note "falling back to collecting this machine alone through inventory/localhost.yml (a fleet of one:"
  note "nothing to compare with, so expect no outliers)"
  victim_id=""
  set +e
  diffy run -l localhost -i inventory/localhost.yml --collector native --results-root "$results"
  rc=$?
  set -e
  analyse_exit_ok "$rc" || { printf '%sdiffy run failed (exit %s)%s\n' "$red" "$rc" "$reset"; exit 2; }
  run_dir=$(latest_run)
  note "as root, this demo runs a lab fleet of 8 hosts with one compromised host instead (docs/lab.md)"
fi

step "Writing the HTML report"
set +e
diffy-analyze "$run_dir" --format html --output "$report"
rc=$?
set -e
analyse_exit_ok "$rc" || { printf '%sthe HTML report failed (exit %s)%s\n' "$red" "$rc" "$reset"; exit 2; }

status=0
if [[ -n "$victim_id" ]]; then
  top=$(diffy-analyze "$run_dir" --format json | python -c '
import json, sys
doc = json.load(sys.stdin)
print(" ".join(h["host"] for h in doc["hosts"] if h["outlier"]))' || true)
  if [[ "$top" == "$victim_id" ]]; then
    printf '\n%sFound it: the compromised host %s (%s) is the one outlier.%s\n' "$green" "$victim" "$victim_id" "$reset"
  else
    printf '\n%sExpected exactly %s (%s) as outlier, got: %s%s\n' "$red" "$victim" "$victim_id" "${top:-none}" "$reset"
    status=1
  fi
fi
printf '%sRun:%s    %s\n' "$bold" "$reset" "$run_dir"
printf '%sReport:%s %s\n' "$bold" "$reset" "$report"
printf '%sTook %ss.%s\n' "$dim" "$((SECONDS - started))" "$reset"
exit "$status"
