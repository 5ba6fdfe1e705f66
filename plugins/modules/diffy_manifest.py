#!/usr/bin/python
# Diffy: write manifest.json of a run directory (runs on the controller, delegated to localhost).
# Standard library only.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diffy_manifest
short_description: Write the manifest.json of a Diffy run directory
description:
  - Hashes (sha256, bytes) every regular file under C(<run_dir>/hosts/), records every host's status,
    the pack, the collector and who collected, and writes C(manifest.json) (format diffy-results/1).
  - Enforces the contract's permissions on the run directory (directories 0700, files 0600).
  - Symlinks are never followed; a symlink or other non-regular entry under hosts/ is an error.
  - Every host with a status file under C(<run_dir>/.status/) is listed (several playbook runs sharing
    one run id, C(serial) batches, a run cut short); C(hosts) overrides with this play's results. A host
    still C(pending) when the run ended is listed as failed with the reason. A host recorded ok or
    partial whose files are not all in C(hosts/<id>/) is listed as failed - an ok host has all its files.
  - Settings not given are read from C(<run_dir>/.run.json) (written by C(diffy_run_start)), so a run
    cut short can be finalized from the run directory alone. The run's lock is released.
options:
  run_dir:
    description: The run directory on the controller.
    type: path
    required: true
  run_id:
    description: The run id.
    type: str
  started_at:
    description: ISO 8601 UTC start of the run.
    type: str
  pack_name:
    description: Name of the pack (file name without .json).
    type: str
  pack_path:
    description: The pack file on the controller; copied byte for byte as C(pack.json).
    type: path
  collector:
    description: The collector that was asked for.
    type: str
    choices: [osquery, native, auto]
  hosts:
    description:
      - "C({inventory hostname: diffy_collect_host_result or null}) for every host the run targeted."
      - A host without a result is recorded as failed, never dropped.
    type: dict
    default: {}
  limit:
    description: The --limit pattern.
    type: str
  app:
    description: The application the run targeted.
    type: str
  diffy_version:
    description: Version of the collecting role.
    type: str
    required: true
  token:
    description: The playbook run's token; its lock (C(.lock)) is released. Empty releases any lock.
    type: str
    default: ""
author: Diffy engineers (@diffy)
"""

EXAMPLES = r"""
- name: Write manifest.json once every host is done (final play on localhost)
  diffy_manifest:
    run_dir: /cases/IR-42/20261129T143812Z-4f2a9c
    run_id: 20261129T143812Z-4f2a9c
    started_at: "2026-11-29T14:38:12Z"
    pack_name: linux-dfir
    pack_path: roles/diffy_collect/files/packs/linux-dfir.json
    collector: auto
    hosts: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
         | map(attribute='diffy_collect_host_result', default=none))) }}
    limit: app_x
    app: app_x
    diffy_version: 0.1.0
"""

RETURN = r"""
manifest:
  description: Path of the manifest written.
  type: str
  returned: success
files:
  description: Number of files hashed.
  type: int
  returned: success
"""

import datetime
import getpass
import hashlib
import json
import os
import shutil
import socket
import stat

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.diffy_host_id import safe_host_id
except ImportError:  # the role used from the diffy.diffy collection
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_host_id import safe_host_id

FORMAT = "diffy-results/1"


def _sha256(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def hash_tree(run_dir):
    """{relative path: {sha256, bytes}} for every file under hosts/; fixes modes on the way."""
    files, problems = {}, []
    hosts_dir = os.path.join(run_dir, "hosts")
    if not os.path.isdir(hosts_dir):
        return files, problems
    os.chmod(hosts_dir, 0o700)
    for host_id in sorted(os.listdir(hosts_dir)):
        host_dir = os.path.join(hosts_dir, host_id)
        info = os.lstat(host_dir)
        if not stat.S_ISDIR(info.st_mode):
            problems.append("hosts/%s is not a directory" % host_id)
            continue
        os.chmod(host_dir, 0o700)
        for name in sorted(os.listdir(host_dir)):
            path = os.path.join(host_dir, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                problems.append("hosts/%s/%s is not a regular file" % (host_id, name))
                continue
            os.chmod(path, 0o600)
            digest, size = _sha256(path)
            files["hosts/%s/%s" % (host_id, name)] = {"sha256": digest, "bytes": size}
    return files, problems


NO_RESULT = (
    "no collection result recorded: the host failed or was unreachable before the collect role "
    "finished (see the Ansible output)"
)


def manifest_hosts(results):
    """{host_id: {status, error, host}} for every host of the play; none is left out.

    ``results`` maps each inventory hostname of the play to its diffy_collect_host_result, or to
    nothing when the host failed or became unreachable outside the collect role: such a host is
    listed as failed.  Two names sharing one host id were not collected (the role refuses them):
    they are listed once, as failed, naming both.
    """
    hosts = {}
    for name in sorted(results, key=str):
        result = results[name]
        if not isinstance(result, dict) or not result.get("status"):
            result = {"status": "failed", "error": NO_RESULT}
        error = result.get("error")
        host_id, label = safe_host_id(name), str(name)
        if host_id in hosts:
            label = hosts[host_id]["host"]
            result = {"status": "failed"}
            error = "host id shared by inventory hosts %r and %r: neither was collected" % (label, str(name))
        hosts[host_id] = {
            "status": str(result["status"]),
            "error": None if error is None else str(error),
            "host": label,
        }
        # Which collector ran on this host, and why native when `auto` chose it (mixed fleets).
        for key in ("collector", "collector_reason"):
            if result.get(key):
                hosts[host_id][key] = str(result[key])
    return hosts


STATUS_DIR = ".status"
LOCK = ".lock"
RUN_STATE = ".run.json"
ENDED_EARLY = (
    "the run ended (deadline reached, interrupted or killed) before this host finished: "
    "nothing usable was kept from it"
)


def _read_json(path):
    try:
        with open(path) as handle:
            doc = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def recorded_results(run_dir):
    """{inventory hostname: result} from the per-host status files (every playbook run of the id)."""
    found = {}
    status_dir = os.path.join(run_dir, STATUS_DIR)
    if not os.path.isdir(status_dir):
        return found
    for name in sorted(os.listdir(status_dir)):
        doc = _read_json(os.path.join(status_dir, name)) if name.endswith(".json") else None
        if doc and doc.get("host"):
            if doc.get("status") == "pending":
                doc = dict(doc, status="failed", error=ENDED_EARLY)
            found[str(doc["host"])] = doc
    return found


def check_files(hosts, results, files):
    """An ok or partial host must have host.json and every file it reported: else it is failed."""
    by_id = {safe_host_id(n): r for n, r in results.items() if isinstance(r, dict)}
    for host_id, entry in hosts.items():
        if entry["status"] not in ("ok", "partial"):
            continue
        wanted = set((by_id.get(host_id) or {}).get("files") or []) | {"host.json"}
        missing = sorted(f for f in wanted if "hosts/%s/%s" % (host_id, f) not in files)
        if missing:
            entry["error"] = "recorded %s but its files are missing from the run directory: %s" % (
                entry["status"], ", ".join(missing[:5]))  # fmt: skip
            entry["status"] = "failed"
    return hosts


def lock_held_elsewhere(run_dir, token):
    """The lock's holder when another playbook that is still alive writes this run, else None."""
    held = _read_json(os.path.join(run_dir, LOCK))
    if not held or (token and held.get("token") == token):
        return None
    if held.get("host") != socket.gethostname():
        return held
    pid = int(held.get("pid") or 0)
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            alive = b"ansible" in handle.read()
    except (IOError, OSError):
        alive = False
    return held if pid > 1 and alive else None


def release_lock(run_dir, token):
    lock = os.path.join(run_dir, LOCK)
    held = _read_json(lock)
    if held is not None and (not token or held.get("token") == token):
        os.remove(lock)


def copy_pack(source, target):
    """The pack, byte for byte, as pack.json (0600)."""
    with open(source, "rb") as handle:
        data = handle.read()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(target, 0o600)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            run_dir=dict(type="path", required=True),
            run_id=dict(type="str"),
            started_at=dict(type="str"),
            pack_name=dict(type="str"),
            pack_path=dict(type="path"),
            collector=dict(type="str", choices=["osquery", "native", "auto"]),
            hosts=dict(type="dict", default={}),
            limit=dict(type="str"),
            app=dict(type="str"),
            diffy_version=dict(type="str", required=True),
            token=dict(type="str", default="", no_log=False),
        ),
        supports_check_mode=False,
    )
    p = dict(module.params)
    run_dir = p["run_dir"]
    state = _read_json(os.path.join(run_dir, RUN_STATE)) or {}
    for key in ("run_id", "started_at", "pack_name", "pack_path", "collector", "limit", "app"):
        if not p.get(key):
            p[key] = state.get(key)
    missing = [k for k in ("run_id", "started_at", "pack_name", "collector") if not p.get(k)]
    if missing:
        module.fail_json(msg="no %s given and no %s in %s" % (", ".join(missing), RUN_STATE, run_dir))
    holder = lock_held_elsewhere(run_dir, p["token"]) if os.path.isdir(run_dir) else None
    if holder:
        module.fail_json(
            msg="run %s is still being written by another playbook (pid %s on %s): no manifest written"
            % (p["run_id"], holder.get("pid"), holder.get("host"))
        )
    if not os.path.isdir(run_dir):
        os.makedirs(run_dir, 0o700)  # every host failed: the manifest still records them
    os.chmod(run_dir, 0o700)
    pack_path = os.path.join(run_dir, "pack.json")
    if p["pack_path"] and os.path.realpath(p["pack_path"]) != os.path.realpath(pack_path):
        try:
            copy_pack(p["pack_path"], pack_path)
        except (IOError, OSError) as exc:
            module.fail_json(msg="cannot keep the pack as %s: %s" % (pack_path, exc))
    if not os.path.isfile(pack_path):
        module.fail_json(msg="no pack.json in %s and no pack_path given" % run_dir)
    incoming = os.path.join(run_dir, ".incoming")  # fetched bundles, removed once unpacked
    if os.path.isdir(incoming):
        shutil.rmtree(incoming)  # a bundle left by a run cut short is never part of the results
    files, problems = hash_tree(run_dir)
    if problems:
        module.fail_json(msg="unexpected entries in the run directory: " + "; ".join(problems[:5]))
    results = recorded_results(run_dir)
    results.update({k: v for k, v in (p["hosts"] or {}).items() if isinstance(v, dict) and v.get("status")})
    results.update({k: None for k, v in (p["hosts"] or {}).items() if k not in results})
    hosts = check_files(manifest_hosts(results), results, files)
    manifest = {
        "format": FORMAT,
        "run_id": p["run_id"],
        "started_at": p["started_at"],
        "finished_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pack": {"name": p["pack_name"], "sha256": _sha256(pack_path)[0]},
        "collector": p["collector"],
        "limit": p["limit"] or None,
        "app": p["app"] or None,
        "diffy_version": p["diffy_version"],
        "collected_by": {"user": getpass.getuser(), "host": socket.gethostname()},
        "hosts": hosts,
        "files": files,
    }
    target = os.path.join(run_dir, "manifest.json")
    partial = target + ".partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(partial, target)  # readers never see a half-written manifest
    release_lock(run_dir, p["token"])
    counts = {}
    for entry in hosts.values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    module.exit_json(
        changed=True,
        manifest=target,
        files=len(files),
        hosts=len(hosts),
        counts=counts,
        not_ok=[dict(h) for _dummy, h in sorted(hosts.items()) if h["status"] != "ok"],
    )


if __name__ == "__main__":
    main()
