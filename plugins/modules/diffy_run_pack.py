#!/usr/bin/python
# Diffy: run every query of an osquery pack on this host, with osqueryi or the native collector.
# Standard library only: this runs on the target's Python 3.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diffy_run_pack
short_description: Run an osquery query pack on the host and write one JSON file per query
description:
  - Runs every query of an osquery-format pack, either with C(osqueryi --json) or with Diffy's native
    collector (osquery-compatible tables built from /proc, /etc and system tools, queried with SQLite).
  - Each query's output goes to C(<out_dir>/<query>.json) in a private temp dir on the host, never
    through Ansible's stdout, so there is no output size cap.
  - Records per query C(status) (ok, error, unsupported, timeout), C(rows), C(duration_s), C(error)
    and the C(sha256) of the file, then writes C(host.json) (results format diffy-results/1).
  - A query that did not succeed leaves no file.
options:
  pack:
    description: The query pack (osquery's pack format), as data.
    type: dict
    required: true
  tmp_parent:
    description:
      - Parent of the private (0700) temp dir the module creates for the results (default the system
        temp dir). The module removes the dir itself when it fails; on success the caller removes
        C(out_dir) after fetching C(bundle).
    type: path
  collector:
    description: C(osquery) runs osqueryi; C(native) uses the built-in tables.
    type: str
    choices: [osquery, native]
    required: true
  osqueryi:
    description: Path of osqueryi (collector osquery).
    type: path
  osqueryi_flags:
    description:
      - Flags passed to osqueryi before the SQL.  C(--flagfile=/dev/null) is always passed first (unless
        these flags name a C(--flagfile)), so the host's /etc/osquery/osquery.flags.default cannot change
        what Diffy collects.
    type: list
    elements: str
    default: ['--json', '--disable_extensions', '--disable_events']
  fallback_native:
    description:
      - Collector C(auto) - when C(osqueryi --version) does not run, collect with the native collector
        instead of failing, and record why in host.json (C(collector_reason)).
    type: bool
    default: false
  collector_reason:
    description: Why the native collector runs (collector auto), recorded in host.json.
    type: str
  default_timeout:
    description: Per-query timeout in seconds when the pack gives none (Diffy's C(timeout) extension).
    type: int
    default: 60
  host_record:
    description: Identity fields for host.json (host, host_id, hostname, os, cloud, addresses).
    type: dict
    required: true
  diffy_version:
    description: Version reported as the native collector's version.
    type: str
    required: true
  run_id:
    description:
      - The run id. The temp dir is named C(diffy-run-<run_id>-<host_id>-<random>) with an owner file, so that
        C(diffy_cleanup) finds it after a task timeout, and the next run removes it if this one was cut.
    type: str
    default: ""
  leftover_age_s:
    description: A temp dir of another run whose collector is gone is removed once older than this.
    type: int
    default: 3600
author: Diffy engineers (@diffy)
"""

EXAMPLES = r"""
- name: Run the default pack with the native collector (nothing installed on the host)
  diffy_run_pack:
    pack: "{{ lookup('ansible.builtin.file', 'packs/linux-dfir.json') | from_json }}"
    collector: native
    host_record: "{{ diffy_collect_host_record }}"
    diffy_version: 0.1.0
  register: diffy_collect_pack_result

- name: Run it with an osqueryi staged by the osquery role, 30 s per query unless the pack says otherwise
  diffy_run_pack:
    pack: "{{ lookup('ansible.builtin.file', 'packs/linux-dfir.json') | from_json }}"
    collector: osquery
    osqueryi: "{{ osquery_osqueryi_path }}"
    default_timeout: 30
    host_record: "{{ diffy_collect_host_record }}"
    diffy_version: 0.1.0
"""

RETURN = r"""
out_dir:
  description: The private temp dir holding the results (the caller removes it).
  type: str
  returned: success
queries:
  description: Per-query status, as written to host.json.
  type: dict
  returned: always
files:
  description: Names of the files written in out_dir (host.json and one file per successful query).
  type: list
  returned: always
hashes:
  description: sha256 of every file in C(files), computed on the host (verified again on the controller).
  type: dict
  returned: always
bundle:
  description: Path of a gzip'd tar holding C(files), for a single fetch.
  type: str
  returned: always
status:
  description: C(ok) when every query succeeded, else C(partial).
  type: str
  returned: always
collector_version:
  description: osqueryi's version, or Diffy's version for the native collector.
  type: str
  returned: always
"""

import datetime
import hashlib
import json
import os
import re
import subprocess
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.diffy_bounded_engine import BoundedEngine
    from ansible.module_utils.diffy_native_engine import QueryFailed, osquery_json
    from ansible.module_utils.diffy_native_firewall import answered_natively, mark_iptables_gaps
    from ansible.module_utils.diffy_proc import descendants, exited, kill_tree
    from ansible.module_utils.diffy_tmpdirs import clean_leftovers, make_private_dir, remove_private_dir
except ImportError:  # the role used from the diffy.diffy collection
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_bounded_engine import BoundedEngine
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_engine import (
        QueryFailed,
        osquery_json,
    )
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_firewall import (
        answered_natively,
        mark_iptables_gaps,
    )
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_proc import (
        descendants,
        exited,
        kill_tree,
    )
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_tmpdirs import (
        clean_leftovers,
        make_private_dir,
        remove_private_dir,
    )

BUNDLE_NAME = "diffy-bundle.tar.gz"
# Tables whose rows a non-root user cannot fully see: sudoers files are 0440 root, other users'
# authorized_keys sit in 0700 homes, shadow is 0640 root.  Collected unprivileged they would look
# clean, so they become a gap (status error, no file) that every report shows.
_PRIVILEGED = re.compile(r"\b(sudoers|authorized_keys|shadow)\b", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_NO_SUCH_TABLE = re.compile(r"no such table", re.IGNORECASE)


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _platform_matches(query, pack):
    platform = query.get("platform") or pack.get("platform") or ""
    wanted = {p.strip() for p in platform.split(",") if p.strip()}
    return not wanted or bool(wanted & {"linux", "posix", "all", "any"})


def _count_rows(path):
    with open(path, "rb") as handle:
        # osquery writes a file name's bytes as they are, valid UTF-8 or not: count those rows too
        # (the loader replaces such bytes and notes it), never call the whole output unreadable.
        data = json.loads(handle.read().decode("utf-8", "surrogateescape") or "[]")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ValueError("output is not a JSON array of objects")
    return len(data)


def _wait(proc, timeout):
    """Wait for the query with a deadline, noting its descendants every 50 ms so that one which
    leaves the session (setsid) can still be killed.  Returns (finished, seen PIDs)."""
    deadline = time.monotonic() + timeout
    seen = set()
    while True:
        seen.update(descendants(proc.pid))
        if exited(proc.pid):  # not reaped yet: kill_tree may still walk its tree safely
            return True, seen
        if time.monotonic() >= deadline:
            return False, seen
        time.sleep(0.05)


def _read_tail(path, limit=2000):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit * 4).decode("utf-8", "replace").strip()
    except (IOError, OSError):
        return ""


def run_osquery(osqueryi, flags, sql, out_path, timeout, *, home):
    """Run osqueryi with stdout and stderr going straight into files (never a pipe: a child that
    keeps a pipe open would block the read).  Returns (status, rows, error)."""
    env = dict(os.environ, HOME=home)  # anything osqueryi writes under ~ lands in our temp dir
    if not any(f.startswith("--flagfile") for f in flags):
        flags = ["--flagfile=/dev/null", *list(flags)]  # the host's own flags file never applies
    err_path = out_path + ".stderr"
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = subprocess.Popen(
            [osqueryi, *list(flags), sql],
            stdout=fd,
            stderr=err_fd,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=home,
            start_new_session=True,
        )
    finally:
        os.close(fd)
        os.close(err_fd)
    finished, seen = _wait(proc, timeout)
    # Whatever the outcome, nothing the query started may outlive it (a daemonised child would
    # keep reading the host, or keep our files open).
    kill_tree(proc.pid, seen, (out_path, err_path))
    proc.wait()
    message = _read_tail(err_path)
    os.remove(err_path)
    if not finished:
        return "timeout", None, "query timed out after %ss (its process tree was killed)" % timeout
    if proc.returncode != 0:
        status = "unsupported" if _NO_SUCH_TABLE.search(message) else "error"
        return status, None, message[:2000] or "osqueryi exited with %d" % proc.returncode
    try:
        return "ok", _count_rows(out_path), None
    except ValueError as exc:
        return "error", None, "osqueryi output unreadable: %s" % exc


def run_native(engine, sql, out_path, timeout):
    try:
        columns, rows = engine.query(sql, timeout=timeout)
    except QueryFailed as exc:
        return exc.status, None, exc.message
    _write_private(out_path, osquery_json(columns, rows))  # byte for byte what osqueryi --json prints
    return "ok", len(rows), None


def osqueryi_version(osqueryi, work_dir, timeout=30):
    """osqueryi --version, bounded like a query (output to a file, whole tree killed)."""
    out_path = os.path.join(work_dir, ".version")
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = subprocess.Popen(
            [osqueryi, "--version"], stdout=fd, stderr=fd, stdin=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:
        return None, str(exc)
    finally:
        os.close(fd)
    finished, seen = _wait(proc, timeout)
    kill_tree(proc.pid, seen, (out_path,))
    proc.wait()
    out = _read_tail(out_path)
    os.remove(out_path)
    if not finished:
        return None, "osqueryi --version did not answer within %ss" % timeout
    if proc.returncode != 0:  # an osqueryi that refuses to run (wrong arch, missing libs, policy)
        return None, "exit %d: %s" % (proc.returncode, out.strip()[:300])
    match = re.search(r"version\s+(\S+)", out)
    return (match.group(1) if match else out.strip()[:100] or "unknown"), None


def write_bundle(out_dir, files):
    """One gzip'd tar of the result files, so the controller fetches a single file per host."""
    path = os.path.join(out_dir, BUNDLE_NAME)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
        for name in files:
            info = tar.gettarinfo(os.path.join(out_dir, name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o600
            with open(os.path.join(out_dir, name), "rb") as handle:
                tar.addfile(info, handle)
    return path


def collected_as():
    """Who ran the collection on the host: the remote user after any become."""
    import pwd

    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return {"user": user, "uid": uid, "root": uid == 0}


def run_pack(params, pack):
    out_dir = params["out_dir"]
    privileged = os.geteuid() == 0
    collector = params["collector"]
    engine = None  # the bounded native engine, started when a query needs it
    results, files = {}, []
    try:
        for name, query in sorted(pack["queries"].items()):
            out_path = os.path.join(out_dir, name + ".json")
            timeout = int(query.get("timeout") or params["default_timeout"])
            started = time.monotonic()
            if not _platform_matches(query, pack):
                status, rows, error = (
                    "unsupported",
                    None,
                    "query platform %r excludes linux" % (query.get("platform") or pack.get("platform")),
                )
            elif not privileged and _PRIVILEGED.search(query["query"]):
                status, rows, error = (
                    "error",
                    None,
                    "needs root: collected as uid %d without become, so this table would be incomplete "
                    "(sudoers, other users' keys and shadow are unreadable)" % os.geteuid(),
                )
            elif answered_natively(query["query"], collector):  # and Diffy's own tables, always
                engine = engine or BoundedEngine()
                status, rows, error = run_native(engine, query["query"], out_path, timeout)
            else:
                status, rows, error = run_osquery(
                    params["osqueryi"],
                    params["osqueryi_flags"],
                    query["query"],
                    out_path,
                    timeout,
                    home=out_dir,
                )
            entry = {
                "status": status,
                "rows": rows,
                "error": error,
                "duration_s": round(time.monotonic() - started, 4),
                "sha256": None,
            }
            if status == "ok":
                entry["sha256"] = _sha256(out_path)
                files.append(name + ".json")
            elif os.path.exists(out_path):
                os.remove(out_path)  # a query that did not succeed has no file
            results[name] = entry
        mark_iptables_gaps({n: q["query"] for n, q in pack["queries"].items()}, results, out_dir)
        files[:] = [f for f in files if results[f[: -len(".json")]]["status"] == "ok"]
    finally:
        if engine is not None:
            engine.close()
    return results, files


class CollectError(Exception):
    pass


def check_pack(pack):
    queries = pack.get("queries") if isinstance(pack, dict) else None
    if not isinstance(queries, dict) or not queries:
        raise CollectError("the query pack has no queries")
    bad = [n for n, q in queries.items() if not _NAME.match(n) or not isinstance(q, dict) or "query" not in q]
    if bad:
        raise CollectError("invalid query names or entries in the pack: %s" % ", ".join(sorted(bad)[:10]))


def collect(params, out_dir):
    """Run the pack into out_dir, write host.json and the bundle; return the module's result."""
    pack = params["pack"]
    check_pack(pack)
    reason = params.get("collector_reason")
    if params["collector"] == "osquery":
        version, problem = osqueryi_version(params["osqueryi"], out_dir)
        if version is None and params.get("fallback_native"):
            reason = "osqueryi refused to run: %s" % (problem or "no version")[:300]
            params = dict(params, collector="native")
        elif version is None:
            raise CollectError("osqueryi at %s does not run: %s" % (params["osqueryi"], problem))
    if params["collector"] == "native":
        version = params["diffy_version"]
    collected_at = _utc_now()
    results, files = run_pack(dict(params, out_dir=out_dir), pack)
    record = dict(params["host_record"])
    record.update(
        collected_at=collected_at,
        collector=params["collector"],
        collector_version=version,
        queries=results,
        collected_as=collected_as(),
    )
    if reason and params["collector"] == "native":
        record["collector_reason"] = reason
    _write_private(
        os.path.join(out_dir, "host.json"), json.dumps(record, indent=2, sort_keys=True).encode("utf-8")
    )
    files = ["host.json", *files]
    return {
        "out_dir": out_dir,
        "queries": results,
        "files": files,
        "hashes": {name: _sha256(os.path.join(out_dir, name)) for name in files},
        "bundle": write_bundle(out_dir, files),
        "status": "ok" if all(r["status"] == "ok" for r in results.values()) else "partial",
        "not_ok": sorted(n for n, r in results.items() if r["status"] != "ok"),
        "collector_version": version,
        "collector": params["collector"],
        "collector_reason": record.get("collector_reason"),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pack=dict(type="dict", required=True),
            tmp_parent=dict(type="path"),
            collector=dict(type="str", required=True, choices=["osquery", "native"]),
            osqueryi=dict(type="path"),
            osqueryi_flags=dict(
                type="list", elements="str", default=["--json", "--disable_extensions", "--disable_events"]
            ),
            fallback_native=dict(type="bool", default=False),
            collector_reason=dict(type="str"),
            default_timeout=dict(type="int", default=60),
            host_record=dict(type="dict", required=True),
            diffy_version=dict(type="str", required=True),
            run_id=dict(type="str", default=""),
            leftover_age_s=dict(type="int", default=3600),
        ),
        required_if=[("collector", "osquery", ["osqueryi"])],
        supports_check_mode=False,
    )
    params = module.params
    # The private (0700) temp dir is created here and removed here on any failure; on success the
    # role fetches the bundle and removes the dir (out_dir) in its `always` section.
    # Left-overs of earlier runs (Ctrl-C, a lost connection) and of an earlier attempt of this run
    # go first: a host never accumulates Diffy's temp dirs.
    host_id = str(params["host_record"].get("host_id") or "")
    leftovers = clean_leftovers(
        params["tmp_parent"], params["run_id"], host_id, stale_after=params["leftover_age_s"]
    )
    try:
        out_dir = make_private_dir(params["tmp_parent"], params["run_id"], host_id)
    except OSError as exc:
        module.fail_json(msg="cannot create a private temp dir: %s" % exc)
    try:
        result = collect(params, out_dir)
    except CollectError as exc:
        remove_private_dir(out_dir)
        module.fail_json(msg=str(exc))
    except BaseException:
        remove_private_dir(out_dir)
        raise
    result["leftovers_removed"] = len(leftovers["removed"])
    result["collected_as"] = collected_as()
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
