"""The service path for real: ansible-rulebook (the real one, Java rule engine) started as
docs/service.md says, over a lab fleet with app_x and app_y, receives a GuardDuty finding
(EventBridge shape) for one app_x instance on its built-in webhook and leaves a complete run of
app_x, never app_y, with its analysis JSON and HTML report under the results root.  Malformed and
unknown events change nothing and the rulebook keeps running; a second finding for the same app
within the window is throttled.

Marker ``lab`` (root, namespaces; run under /tmp/diffy-lab.lock).  Stand-ins, named: moto plays
EC2, the native collector plays osquery, the POST plays EventBridge (an API destination or the SQS
variant would deliver the same JSON document in production).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from diffy_analysis.verify import verify_run
from diffy_lab import Lab, LabConfig
from diffy_lab.fleet import in_lab
from diffy_lab.testing import running_lab, unique_name

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
RULEBOOK = "extensions/eda/rulebooks/diffy_on_alert.yml"
PORT = 5080  # inside the lab namespace: its loopback is its own
COMPROMISED = "app-x-02"


def guardduty_finding(instance_id: str, tags: list[dict[str, str]]) -> dict:
    """A GuardDuty finding as EventBridge delivers it (fields trimmed to what matters)."""
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": "123456789012",
        "time": "2026-12-01T22:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "schemaVersion": "2.0",
            "accountId": "123456789012",
            "region": "us-east-1",
            "id": "16afba5c5c43e07c9e3e5e2e544e95df",
            "type": "Backdoor:EC2/C&CActivity.B!DNS",
            "severity": 8,
            "resource": {
                "resourceType": "Instance",
                "instanceDetails": {"instanceId": instance_id, "tags": tags},
            },
        },
    }


def post(body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/guardduty", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def send(lab: Lab, doc: object | bytes) -> int:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return in_lab(lab, post, body, timeout=10)


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert proc.poll() is None, f"ansible-rulebook exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}:\n{log.read_text()[-6000:]}")


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def lab():
    config = LabConfig(
        name=unique_name("svc"),
        apps=[("app_x", 4), ("app_y", 2)],
        subnet="10.213.128.0/24",
        compromise={COMPROMISED: ["listener"]},
    )
    with running_lab(config) as the_lab:
        yield the_lab


def test_rulebook_answers_a_guardduty_finding_with_a_run_of_the_whole_app(lab, tmp_path):
    if shutil.which("java") is None:
        pytest.fail("ansible-rulebook needs Java 17: apt install openjdk-17-jre-headless (scripts/setup.sh)")
    root = tmp_path / "results"
    root.mkdir()
    variables = tmp_path / "service-vars.yml"
    variables.write_text(
        f"diffy_webhook_host: 127.0.0.1\ndiffy_webhook_port: {PORT}\ndiffy_results_root: {root}\n"
        "diffy_respond_collector: native\ndiffy_respond_throttle_seconds: 600\n"
    )
    log = tmp_path / "rulebook.log"
    env = lab.controller_env()
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")  # as docs/service.md says
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            lab.controller_argv(
                ["ansible-rulebook", "-r", RULEBOOK, "-i", str(lab.inventory), "--vars", str(variables)]
            ),
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: _listening(lab), 60, "the webhook", proc, log)
        target = lab.host(COMPROMISED)
        app_x = {h.instance_id for h in lab.hosts_of("app_x")}
        app_y = {h.instance_id for h in lab.hosts_of("app_y")}

        # Malformed and unknown events first: each is logged and dropped, nothing is written.
        assert send(lab, b"{not json") == 400
        bad = [
            guardduty_finding("i-../../etc/passwd", []),  # not an instance id
            guardduty_finding("i-0123456789abcdef0", []),  # not in the inventory
            {"source": "aws.guardduty", "detail": {"resource": {"resourceType": "S3Bucket"}}},
            {"hello": "world"},
            ["a", "list"],
            {"app": "all"},  # an app that is not an application group
        ]
        for doc in bad:
            assert send(lab, doc) == 200
        wait_for(lambda: log.read_text().count("Dropped") >= 3, 60, "the bad events", proc, log)
        wait_for(lambda: "dropped an event" in log.read_text(), 10, "the drop rule", proc, log)
        assert files_under(root) == set(), "a malformed event changed the results root"

        # The real finding: the app comes from the inventory; the event's tags even claim app_y.
        sent = time.monotonic()
        assert send(lab, guardduty_finding(target.instance_id, [{"key": "app", "value": "app_y"}])) == 200
        analyses = root / "analyses"
        wait_for(lambda: any(analyses.glob("*/response.json")), 120, "the response to complete", proc, log)
        took = time.monotonic() - sent
        assert took < 120
        runs = [p for p in root.iterdir() if (p / "manifest.json").is_file()]
        assert len(runs) == 1
        run = runs[0]
        manifest = json.loads((run / "manifest.json").read_text())
        assert set(manifest["hosts"]) == app_x and not set(manifest["hosts"]) & app_y
        assert {e["status"] for e in manifest["hosts"].values()} == {"ok"}
        assert manifest["app"] == "app_x"
        assert verify_run(run).ok
        out = analyses / run.name
        analysis = json.loads((out / "analysis.json").read_text())
        assert analysis["method"] == "peers" and analysis["app"] == "app_x"
        assert {h["host"] for h in analysis["hosts"] if h["outlier"]} == {target.instance_id}
        html = (out / "report.html").read_text()
        assert html.startswith("<!DOCTYPE html>") and target.instance_id in html
        response = json.loads((out / "response.json").read_text())
        assert response["instance"] == target.instance_id and response["outliers_found"] is True

        # Throttled: another finding for app_x within the window collects nothing more, and a
        # malformed event afterwards still leaves the rulebook running.
        before = files_under(root)
        other = lab.hosts_of("app_x")[0].instance_id
        assert send(lab, guardduty_finding(other, [])) == 200
        wait_for(lambda: "Throttled: app_x" in log.read_text(), 60, "the throttle", proc, log)
        assert send(lab, {"instance_id": "not-an-id"}) == 200
        wait_for(lambda: log.read_text().count("Dropped") >= 4, 60, "the last bad event", proc, log)
        assert files_under(root) == before
        assert proc.poll() is None
        assert send(lab, {"hello": "still there"}) == 200
        print(f"service test: response in {took:.1f}s, whole test {time.monotonic() - started:.1f}s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _listening(lab: Lab) -> bool:
    try:
        return send(lab, b"not json, a probe") == 400
    except (OSError, urllib.error.URLError):
        return False
