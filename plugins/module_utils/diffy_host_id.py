# Diffy: the results contract's host_id rule (docs/results-format.md), for the Ansible side.
#
# The same rule as diffy_analysis.contract.safe_host_id; tests/test_collect_role.py checks that both
# give identical results (hypothesis).  Duplicated on purpose: the roles work without the Python package.
# Standard library only (used by modules on the controller).
from __future__ import absolute_import, division, print_function

import hashlib
import re

__metaclass__ = type

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_HOST_ID = 200


def safe_host_id(host):
    """Inventory hostname -> path-safe host id ([A-Za-z0-9._-], never '.'/'..', <= 200 chars).

    A name that had to be changed (or was too long) gets '-' plus 10 hex digits of its sha256, so two
    different names never share a directory by accident.
    """
    host = str(host)
    cleaned = _UNSAFE.sub("_", host).strip(".")
    if cleaned != host or len(cleaned) > MAX_HOST_ID or not cleaned:
        digest = hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cleaned = "%s-%s" % (cleaned[: MAX_HOST_ID - 11], digest) if cleaned else "host-%s" % digest
    return cleaned


def host_ids(hostnames):
    """({name: host_id}, sorted names whose host_id another name of the list also has)."""
    ids = {}
    owners = {}
    for name in hostnames:
        host_id = safe_host_id(name)
        ids[str(name)] = host_id
        owners.setdefault(host_id, []).append(str(name))
    shared = sorted(n for names in owners.values() if len(names) > 1 for n in names)
    return ids, shared
