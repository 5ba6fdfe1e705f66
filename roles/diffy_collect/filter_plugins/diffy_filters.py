# Diffy filters for the collect role (run on the controller).
#
# diffy_safe_host_id implements the host_id rule of the results contract (docs/results-format.md),
# the same rule as diffy_analysis.contract.safe_host_id; tests/test_collect_role.py checks that both
# give identical results.  It is duplicated on purpose: the role must work without the Python package.
from __future__ import absolute_import, division, print_function

import hashlib
import os
import re

__metaclass__ = type

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_HOST_ID = 200


def diffy_safe_host_id(host):
    """Inventory hostname -> path-safe host id ([A-Za-z0-9._-], never '.'/'..', <= 200 chars)."""
    host = str(host)
    cleaned = _UNSAFE.sub("_", host).strip(".")
    if cleaned != host or len(cleaned) > MAX_HOST_ID or not cleaned:
        digest = hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = "%s-%s" % (cleaned[: MAX_HOST_ID - 11], digest) if cleaned else "host-%s" % digest
    return cleaned


def diffy_abspath(path):
    """Absolute path, relative paths taken from the directory ansible-playbook was started in."""
    return os.path.abspath(os.path.expanduser(str(path)))


def diffy_manifest_hosts(hostnames, hostvars):
    """{host_id: {status, error, host}} for every host of the play; none is left out.

    A host without diffy_collect_host_result failed or became unreachable outside the collect role
    (e.g. its play dropped it before the role ran): it is listed as failed with that explanation.
    """
    hosts = {}
    for name in hostnames:
        result = None
        try:
            result = hostvars[name].get("diffy_collect_host_result")
        except Exception:  # an undefined or broken hostvar must not lose the host
            result = None
        if not isinstance(result, dict) or not result.get("status"):
            result = {
                "status": "failed",
                "error": "no collection result recorded: the host failed or was unreachable before "
                "the collect role finished (see the Ansible output)",
            }
        error = result.get("error")
        host_id, label = diffy_safe_host_id(name), str(name)
        if host_id in hosts:  # two inventory names, one id: the host.yml assert kept both out
            label = hosts[host_id]["host"]
            result = {"status": "failed"}
            error = "host id shared by inventory hosts %r and %r: neither was collected" % (label, str(name))
        hosts[host_id] = {
            "status": str(result["status"]),
            "error": None if error is None else str(error),
            "host": label,
        }
    return hosts


class FilterModule:
    def filters(self):
        return {
            "diffy_safe_host_id": diffy_safe_host_id,
            "diffy_abspath": diffy_abspath,
            "diffy_manifest_hosts": diffy_manifest_hosts,
        }
