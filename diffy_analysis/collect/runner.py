"""Run a collection playbook through ansible-runner.

ansible-runner writes its inputs in plain text under its private data dir: ``env/`` files (which we
suppress) and ``artifacts/<ident>/command``, which holds the COMPLETE environment of ansible-playbook,
inherited AWS credentials included.  So the private data dir is a fresh 0700 temporary directory,
outside any results directory, deleted after the run; when asked to keep it (--keep-artifacts), the
environment in ``command`` is reduced to variable names before we return.  Credentials are never
passed as ``envvars``: ansible-playbook inherits them from this process's environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from diffy_analysis.collect.content import collections_root, project_dir
from diffy_analysis.collect.events import EventTracker, HostEventCallback
from diffy_analysis.collect.options import COLLECTORS, CollectOptions
from diffy_analysis.collect.result import CollectResult, read_result
from diffy_analysis.contract import is_run_id, new_run_id
from diffy_analysis.errors import CollectionError, UsageError


def runner_env(project: Path) -> dict[str, str]:
    """Non-secret settings for ansible-playbook (ansible-runner does not read ./ansible.cfg)."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    config = project / "ansible.cfg"
    if config.is_file():
        env["ANSIBLE_CONFIG"] = str(config)
    else:
        env["ANSIBLE_ROLES_PATH"] = str(project / "roles")
    # diffy.diffy.* must resolve to THIS copy (the wheel's has no collections/ beside its ansible.cfg);
    # Ansible's usual places follow, and collections inside the `ansible` package are always searched.
    root = collections_root(project)
    if root is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
            [str(root), "~/.ansible/collections", "/usr/share/ansible/collections"]
        )
    return env


def _check(options: CollectOptions, project: Path) -> Path:
    if options.collector not in COLLECTORS:
        raise UsageError(f"unknown collector {options.collector!r}; choose one of {', '.join(COLLECTORS)}")
    if not options.limit.strip():
        raise UsageError("a --limit is required (an app group such as app_x, or 'all')")
    if options.run_id and not is_run_id(options.run_id):
        raise UsageError(f"bad run id {options.run_id!r} (expected e.g. 20261129T143812Z-4f2a9c)")
    playbook = project / "playbooks" / options.playbook
    if not playbook.is_file():
        raise CollectionError(f"no playbook {playbook}")
    for inv in options.inventory:
        if not inv.exists():
            raise UsageError(f"inventory {inv} does not exist")
    reserved = sorted(set(options.extravars) & {"diffy_results_root", "diffy_run_id"})
    if reserved:
        raise UsageError(f"{', '.join(reserved)} cannot be passed as an extra var; use --results-root")
    if options.pack is not None and not options.pack.is_file():
        raise UsageError(f"query pack {options.pack} does not exist")
    return playbook


_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|SESSION|ACCESS_KEY|PRIVATE|API_KEY", re.IGNORECASE)
REDACTED = "<redacted by diffy>"


def secret_values(env: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they are secrets (AWS keys, tokens...)."""
    env = dict(os.environ) if env is None else env
    values = {v for k, v in env.items() if (_SECRET_NAME.search(k) or k.startswith("AWS_")) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


def scrub_artifacts(private: Path, secrets: list[str] | None = None) -> None:
    """Make a kept ansible-runner directory safe to keep: ``command`` files keep only the names of
    the environment variables, ``env/`` goes, and any secret value from our environment that shows
    up elsewhere (facts such as ansible_env of a local connection land in job events) is redacted."""
    for command_file in private.glob("artifacts/*/command"):
        try:
            doc = json.loads(command_file.read_text("utf-8"))
            doc["env"] = sorted(doc.get("env") or {})
            command_file.write_text(json.dumps(doc), "utf-8")
        except (OSError, ValueError):
            command_file.unlink(missing_ok=True)
    shutil.rmtree(private / "env", ignore_errors=True)
    needles = [s.encode() for s in (secret_values() if secrets is None else secrets)]
    if not needles:
        return
    for path in private.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if any(n in data for n in needles):
            for needle in needles:
                data = data.replace(needle, REDACTED.encode())
            path.write_bytes(data)


def playbook_deadline(timeout: float) -> int:
    """The whole-run deadline handed to the playbook: a little below our own hard timeout, so the
    playbook itself stops the hosts still running, cleans up and writes the manifest; the hard
    timeout (then finalize.yml) is only the last resort."""
    margin = min(60.0, max(5.0, timeout / 4))
    return max(1, int(timeout - margin))


def extra_vars(options: CollectOptions, run_id: str, results_root: Path) -> dict:
    extravars = {
        "diffy_results_root": str(results_root),
        "diffy_run_id": run_id,
        "diffy_collect_collector": options.collector,
        "diffy_collect_deadline_s": playbook_deadline(options.timeout),
        **options.extravars,
    }
    if options.pack is not None:
        extravars["diffy_collect_pack"] = str(options.pack.resolve())
    if options.osquery_install_mode:
        extravars["osquery_install_mode"] = options.osquery_install_mode
    return extravars


def finalize(project: Path, run_dir: Path, *, timeout: float = 120) -> bool:
    """Run playbooks/finalize.yml on ``run_dir``; True when it wrote the manifest."""
    playbook = project / "playbooks" / "finalize.yml"
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook),
            "-i", "localhost,", "-e", json.dumps({"diffy_run_dir": str(run_dir)})]  # fmt: skip
    env = {**os.environ, **runner_env(project)}
    try:
        subprocess.run(argv, cwd=project, env=env, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return (run_dir / "manifest.json").exists()


def collect(options: CollectOptions, *, on_host: HostEventCallback | None = None) -> CollectResult:
    """Run the playbook; return the manifest's per-host outcomes. Raises CollectionError when the
    run failed as a whole (no manifest written)."""
    from diffy_analysis.extras import require  # noqa: PLC0415

    ansible_runner = require("ansible_runner", "collect", "collecting")  # heavy; only when collecting

    project = project_dir()
    playbook = _check(options, project)
    run_id = options.run_id or new_run_id()
    results_root = options.results_root.resolve()
    results_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    tracker = EventTracker(on_change=on_host)
    if options.keep_artifacts:
        options.keep_artifacts.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Path(tempfile.mkdtemp(prefix=f"runner-{run_id}-", dir=options.keep_artifacts))
    else:
        private = Path(tempfile.mkdtemp(prefix="diffy-runner-"))
    started = time.monotonic()
    run_dir = options.result_dir or results_root / run_id
    interrupted = False
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(project),
            playbook=str(playbook),
            inventory=[str(i.resolve()) for i in options.inventory] or None,
            limit=options.limit,
            extravars=extra_vars(options, run_id, results_root),
            envvars=runner_env(project),
            suppress_env_files=True,
            forks=options.forks,
            timeout=int(options.timeout),
            event_handler=tracker,
            quiet=True,
        )
        status, rc = str(runner.status), int(runner.rc if runner.rc is not None else -1)
    except KeyboardInterrupt:
        interrupted, status, rc = True, "canceled", -1
    finally:
        tracker.finish()
        if options.keep_artifacts:
            scrub_artifacts(private)
        else:
            shutil.rmtree(private, ignore_errors=True)
    why = tracker.first_failure
    if not tracker.hosts and status != "timeout":
        parse_problems = [w for w in tracker.warnings if "parse" in w.lower()]
        why = "; ".join([f"no host of the inventory matched --limit {options.limit!r}", *parse_problems[:2]])
    if status == "timeout":
        why = f"timed out after {options.timeout:g}s" + (f"; {why}" if why else "")
    if not (run_dir / "manifest.json").exists() and (run_dir / ".run.json").exists():
        # cut short (hard timeout, Ctrl-C, a crash): the hosts that finished are kept, the others
        # are recorded with the reason, from the run directory alone
        finalize(project, run_dir)
    if interrupted:
        why = "interrupted (Ctrl-C)" + (f"; {why}" if why else "")
    return read_result(
        run_dir,
        runner_status=status,
        rc=rc,
        elapsed_s=time.monotonic() - started,
        why=why,
    )
