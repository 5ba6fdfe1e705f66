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
    description: Flags passed to osqueryi before the SQL.
    type: list
    elements: str
    default: ['--json', '--disable_extensions', '--disable_events']
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
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.diffy_native_engine import Engine, QueryFailed, rows_as_objects
except ImportError:  # the role used from the diffy.diffy collection
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_native_engine import (
        Engine,
        QueryFailed,
        rows_as_objects,
    )

BUNDLE_NAME = "diffy-bundle.tar.gz"
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
        data = json.loads(handle.read().decode("utf-8") or "[]")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ValueError("output is not a JSON array of objects")
    return len(data)


def run_osquery(osqueryi, flags, sql, out_path, timeout, *, home):
    """Run osqueryi with stdout going straight into out_path.  Returns (status, rows, error)."""
    env = dict(os.environ, HOME=home)  # anything osqueryi writes under ~ lands in our temp dir
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(
            [osqueryi, *list(flags), sql],
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=home,
            start_new_session=True,
        )
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return "timeout", None, "query timed out after %ss" % timeout
    message = stderr.decode("utf-8", "replace").strip()
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
    data = json.dumps(rows_as_objects(columns, rows), indent=2, sort_keys=False)
    _write_private(out_path, data.encode("utf-8"))
    return "ok", len(rows), None


def osqueryi_version(osqueryi):
    try:
        out = subprocess.run(
            [osqueryi, "--version"],
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=30,
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
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


def run_pack(params, pack):
    out_dir = params["out_dir"]
    collector = params["collector"]
    engine = Engine() if collector == "native" else None
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
            elif collector == "native":
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
    if params["collector"] == "osquery":
        version, problem = osqueryi_version(params["osqueryi"])
        if version is None:
            raise CollectError("osqueryi at %s does not run: %s" % (params["osqueryi"], problem))
    else:
        version = params["diffy_version"]
    collected_at = _utc_now()
    results, files = run_pack(dict(params, out_dir=out_dir), pack)
    record = dict(params["host_record"])
    record.update(
        collected_at=collected_at, collector=params["collector"], collector_version=version, queries=results
    )
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
            default_timeout=dict(type="int", default=60),
            host_record=dict(type="dict", required=True),
            diffy_version=dict(type="str", required=True),
        ),
        required_if=[("collector", "osquery", ["osqueryi"])],
        supports_check_mode=False,
    )
    params = module.params
    # The private (0700) temp dir is created here and removed here on any failure; on success the
    # role fetches the bundle and removes the dir (out_dir) in its `always` section.
    try:
        out_dir = tempfile.mkdtemp(prefix="diffy-", dir=params["tmp_parent"] or None)
    except OSError as exc:
        module.fail_json(msg="cannot create a private temp dir: %s" % exc)
    try:
        result = collect(params, out_dir)
    except CollectError as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        module.fail_json(msg=str(exc))
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
