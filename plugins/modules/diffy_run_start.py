#!/usr/bin/python
# Diffy: open a run directory for writing (runs on the controller, delegated to localhost, once).
# Standard library only.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diffy_run_start
short_description: Open a Diffy run directory for one playbook run, refusing concurrent writers
description:
  - Creates the run directory (0700), takes its lock (C(.lock)), keeps the pack as C(pack.json),
    records the run's settings (C(.run.json)) and one C(pending) status per targeted host under
    C(.status/), so that a run cut short (deadline, Ctrl-C, a killed controller) can still be given a
    manifest with every host's real status (the C(finalize) playbook).
  - A second playbook writing the same run id while the first holds the lock is refused. A lock left
    by a playbook that is gone (Ctrl-C, kill) is taken over.
  - A run directory that already has a manifest is refused, unless C(mode=overwrite) (its host
    results are removed) or C(mode=append) (several playbook runs sharing one run id - the hosts of
    this run are added or replaced, the others kept; the pack must be the same).
options:
  run_dir:
    description: The run directory on the controller.
    type: path
    required: true
  run_id: {description: The run id., type: str, required: true}
  token: {description: A random token naming this playbook run (the lock's owner)., type: str, required: true}
  pack_path: {description: The pack file on the controller., type: path, required: true}
  settings: {description: Run settings recorded in .run.json for the manifest., type: dict, required: true}
  hosts:
    description: Inventory hostname -> host id of every host this playbook run targets.
    type: dict
    required: true
  mode:
    description: What to do with a run directory that already has a manifest.
    type: str
    choices: [refuse, overwrite, append]
    default: refuse
author: Diffy engineers (@diffy)
"""

EXAMPLES = r"""
- name: Open the run directory once, on the controller
  diffy_run_start:
    run_dir: /cases/IR-42/20261129T143812Z-4f2a9c
    run_id: 20261129T143812Z-4f2a9c
    token: k3x9q2m4v8b1n7z5
    pack_path: roles/diffy_collect/files/packs/linux-dfir.json
    hosts: {i-0abc1234: i-0abc1234, i-0def5678: i-0def5678}
    settings:
      started_at: "2026-11-29T14:38:12Z"
      pack_name: linux-dfir
      collector: auto
      limit: app_x
      app: app_x
    mode: refuse
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
appended:
  description: True when this playbook run adds hosts to a finished run (mode append).
  type: bool
  returned: success
"""

import hashlib
import json
import os
import shutil
import socket
import time

from ansible.module_utils.basic import AnsibleModule

LOCK = ".lock"
STATUS_DIR = ".status"
RUN_STATE = ".run.json"


def _write(path, data):
    partial = path + ".partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (IOError, OSError):
        return ""


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
        return int(stat[stat.rfind(")") + 2 :].split()[1])
    except (IOError, OSError, ValueError, IndexError):
        return 0


def playbook_pid():
    """The ansible-playbook process this module runs under (the lock's holder): modules and
    workers come and go, the playbook lives as long as the run.  Workers are forks of the playbook
    (same command line), so the holder is the TOPMOST ancestor whose command line names it."""
    found, pid = 0, os.getppid()
    while pid > 1:
        if "ansible-playbook" in _cmdline(pid):
            found = pid
        pid = _ppid(pid)
    return found or os.getppid()


def _holder_alive(lock):
    if lock.get("host") != socket.gethostname():
        return True  # another controller (shared results disk): never assume it is gone
    pid = int(lock.get("pid") or 0)
    return pid > 1 and os.path.exists("/proc/%d" % pid) and "ansible" in _cmdline(pid)


def take_lock(run_dir, token, run_id):
    """Create run_dir/.lock atomically; a live holder means refusal, a dead one is taken over."""
    path = os.path.join(run_dir, LOCK)
    doc = {"token": token, "run_id": run_id, "pid": playbook_pid(), "host": socket.gethostname(),
           "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                with open(path) as handle:
                    held = json.load(handle)
            except (IOError, OSError, ValueError):
                held = {}
            if held.get("token") == token:
                return None
            if _holder_alive(held):
                return "run %s is being written by another playbook (pid %s on %s, since %s): refused, so " \
                    "neither overwrites the other; wait for it or choose another run id" % (
                        run_id, held.get("pid"), held.get("host"), held.get("since"))  # fmt: skip
            os.remove(path)  # left by a playbook that is gone (Ctrl-C, kill -9): take it over
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)
        return None
    return "could not take the lock %s" % path


def _sha256_file(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            run_dir=dict(type="path", required=True),
            run_id=dict(type="str", required=True),
            token=dict(type="str", required=True, no_log=False),
            pack_path=dict(type="path", required=True),
            settings=dict(type="dict", required=True),
            hosts=dict(type="dict", required=True),
            mode=dict(type="str", default="refuse", choices=["refuse", "overwrite", "append"]),
        ),
        supports_check_mode=False,
    )
    p = module.params
    run_dir = p["run_dir"]
    if not os.path.isdir(run_dir):
        os.makedirs(run_dir, 0o700)
    os.chmod(run_dir, 0o700)
    problem = take_lock(run_dir, p["token"], p["run_id"])
    if problem:
        module.fail_json(msg=problem)
    manifest = os.path.join(run_dir, "manifest.json")
    pack_copy = os.path.join(run_dir, "pack.json")
    status_dir = os.path.join(run_dir, STATUS_DIR)
    finished = os.path.exists(manifest)
    if finished and p["mode"] == "refuse":
        os.remove(os.path.join(run_dir, LOCK))
        module.fail_json(
            msg="%s already holds a finished run (manifest.json). Choose another run id or baseline name, "
            "set diffy_collect_overwrite=true to replace it, or diffy_collect_append=true to add hosts "
            "to it." % run_dir
        )
    if finished and p["mode"] == "overwrite":
        for name in ("hosts", STATUS_DIR):
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
    earlier = (
        os.path.exists(pack_copy) and (finished or os.path.isdir(status_dir)) and p["mode"] != "overwrite"
    )
    if earlier and _sha256_file(pack_copy) != _sha256_file(p["pack_path"]):
        os.remove(os.path.join(run_dir, LOCK))
        module.fail_json(msg="%s was collected with another pack: one run id, one pack" % run_dir)
    with open(p["pack_path"], "rb") as handle:
        _write(pack_copy, handle.read())
    if not os.path.isdir(status_dir):
        os.makedirs(status_dir, 0o700)
    state = dict(p["settings"], run_id=p["run_id"], token=p["token"])
    _write(os.path.join(run_dir, RUN_STATE), json.dumps(state, indent=2, sort_keys=True).encode("utf-8"))
    for host, host_id in sorted(p["hosts"].items()):
        pending = {"host": host, "host_id": host_id, "status": "pending", "token": p["token"]}
        _write(os.path.join(status_dir, host_id + ".json"), json.dumps(pending).encode("utf-8"))
    module.exit_json(changed=True, appended=finished and p["mode"] == "append")


if __name__ == "__main__":
    main()
