"""The service's Ansible side without a lab: both rulebooks pass ansible-rulebook's own schema,
rule parser and rule-engine compiler (the SQS variant can only be config-checked here: ansible.eda
is not installable without Galaxy), the SQS rules equal the webhook rules, and
playbooks/respond.yml drops bad events before touching anything (the lab run is tests/test_service.py)."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from collection_helpers import REPO, VENV_BIN, ansible_env

RULEBOOKS = REPO / "extensions" / "eda" / "rulebooks"
VARS = {
    "diffy_webhook_host": "127.0.0.1",
    "diffy_webhook_port": 5000,
    "diffy_results_root": "/tmp/r",
    "diffy_sqs_queue": "guardduty",
    "diffy_sqs_region": "us-east-1",
}
INVENTORY = """\
all:
  children:
    app_x:
      hosts:
        i-0000000000000000a: {ansible_host: 192.0.2.10}
    app_y:
      hosts:
        i-0000000000000000b: {ansible_host: 192.0.2.11}
"""


@pytest.mark.parametrize("name", ["diffy_on_alert.yml", "diffy_on_alert_sqs.yml"])
def test_rulebook_passes_ansible_rulebooks_own_checks(name):
    from ansible_rulebook import rules_parser
    from ansible_rulebook.conf import settings
    from ansible_rulebook.json_generator import generate_dict_rulesets
    from ansible_rulebook.validators import Validate

    # Found on PATH at import time; the venv's bin may not be on PATH under pytest.
    settings.ansible_galaxy_path = str(VENV_BIN / "ansible-galaxy")
    data = yaml.safe_load((RULEBOOKS / name).read_text())
    Validate.rulebook(data)  # the JSON schema ansible-rulebook checks at start
    rulesets = rules_parser.parse_rule_sets(data, VARS)  # every condition parsed
    compiled = generate_dict_rulesets(rulesets, VARS)  # what the Drools engine receives
    ruleset = rulesets[0]
    assert ruleset.hosts == ["all,localhost"]  # localhost stays in run_playbook's --limit
    assert [r.name for r in ruleset.rules][-1] == "Drop unknown events"
    assert all(r.actions for r in ruleset.rules)
    actions = [a for r in ruleset.rules for a in r.actions if a.action == "run_playbook"]
    assert len(actions) == 3
    for action in actions:
        assert action.action_args["name"] == "playbooks/respond.yml"
        assert action.action_args["extra_vars"]["diffy_results_root"] == "{{ diffy_results_root }}"
    assert len(compiled[0]["RuleSet"]["rules"]) == 4


def test_sqs_variant_has_the_webhook_rules_reading_event_body():
    webhook = yaml.safe_load((RULEBOOKS / "diffy_on_alert.yml").read_text())[0]
    sqs = yaml.safe_load((RULEBOOKS / "diffy_on_alert_sqs.yml").read_text())[0]
    as_sqs = json.dumps(webhook["rules"]).replace("event.payload", "event.body").replace("POSTed as is", "")
    assert json.dumps(sqs["rules"]) == as_sqs
    assert "ansible.eda.aws_sqs_queue" in sqs["sources"][0]
    assert "eda.builtin.webhook" in webhook["sources"][0]


def playbook(tmp_path, name: str, *extra: str) -> subprocess.CompletedProcess:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    argv = [str(VENV_BIN / "ansible-playbook"), str(REPO / "playbooks" / name), "-i", str(inventory)]
    return subprocess.run(
        [*argv, "-l", "all,localhost", *extra],
        capture_output=True, text=True, env=ansible_env({"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}),
        timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (["-e", "diffy_respond_instance=i-../../etc"], "names no usable instance id"),
        (["-e", "diffy_respond_instance=i-0123456789abcdef0"], "not in the inventory"),
        (["-e", "diffy_respond_app=all"], "cannot tell which application"),
        (["-e", "diffy_respond_app=app_z"], "cannot tell which application"),
        (
            ["-e", "diffy_respond_instance=i-0000000000000000a", "-e", "diffy_respond_app=app_y"],
            "cannot tell",
        ),
        (["-e", "diffy_respond_throttle_seconds=soon", "-e", "diffy_respond_app=app_x"], "unable to convert"),
        (["-e", "diffy_respond_collector=magic", "-e", "diffy_respond_app=app_x"], "diffy_respond_collector"),
        ([], "names no usable instance id"),
    ],
)
def test_respond_drops_a_bad_event_before_touching_anything(tmp_path, event, words):
    root = tmp_path / "results"
    proc = playbook(tmp_path, "respond.yml", "-e", f"diffy_results_root={root}", *event)
    assert proc.returncode != 0
    assert words in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    assert "PLAY [Collect host state" not in proc.stdout or "no hosts matched" in proc.stdout
    assert not root.exists()
    assert not (tmp_path / "diffy-results").exists()


def test_service_check_accepts_good_settings_and_refuses_bad_ones(tmp_path):
    good = playbook(tmp_path, "service_check.yml", "-e", "diffy_webhook_host=127.0.0.1",
                    "-e", "diffy_webhook_port=5000", "-e", "diffy_results_root=/tmp/r")  # fmt: skip
    assert good.returncode == 0 and "settings OK" in good.stdout, good.stdout[-2000:]
    for bad in (
        [
            "-e",
            "diffy_webhook_host=127.0.0.1",
            "-e",
            "diffy_webhook_port=99999",
            "-e",
            "diffy_results_root=/r",
        ],
        ["-e", "diffy_webhook_host=127.0.0.1", "-e", "diffy_webhook_port=5000"],  # no results root
        ["-e", "diffy_results_root=/r"],  # nothing to listen on
        ["-e", "diffy_sqs_queue=q", "-e", "diffy_results_root=/r", "-e", "diffy_es_url=https://u:p@es:9200"],
    ):
        proc = playbook(tmp_path, "service_check.yml", *bad)
        assert proc.returncode != 0, bad
