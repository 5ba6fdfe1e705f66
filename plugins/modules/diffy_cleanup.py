#!/usr/bin/python
# Diffy: remove this run's temp dirs from the host, whatever state the collection left them in.
# Standard library only: this runs on the target's Python 3.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diffy_cleanup
short_description: Remove Diffy's temp dirs from the host, killing a stuck collector first
description:
  - Runs in the role's C(always) section, also after a task timeout - the collector may still run
    there, stopped (SIGSTOP) or blocked. Every C(diffy-run-<run_id>-<host_id>-*) dir under C(tmp_parent) is
    found by name (its random part is never needed), whatever still works in it is killed
    (the collector named by its owner file with its process tree, and any process holding a file
    below it), then the dir is removed.
  - Left-overs of earlier runs whose collector is gone (Ctrl-C, a dropped connection) are removed
    too. Only real directories owned by the remote user are touched; symlinks never.
options:
  tmp_parent:
    description: Parent of the temp dirs (default the system temp dir), as given to C(diffy_run_pack).
    type: path
  run_id:
    description: The run whose dirs are removed.
    type: str
    required: true
  host_id:
    description: The host id whose dirs are removed (two inventory names may share one machine).
    type: str
    required: true
author: Diffy engineers (@diffy)
"""

EXAMPLES = r"""
- name: Remove this run's temp dirs from the host (in the role's always section)
  diffy_cleanup:
    run_id: 20261129T143812Z-4f2a9c
    host_id: i-0abc1234
  ignore_errors: true
  timeout: 60
"""

RETURN = r"""
removed:
  description: The dirs removed.
  type: list
  returned: always
killed:
  description: PIDs killed (a stuck collector and its children).
  type: list
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.diffy_tmpdirs import clean_leftovers
except ImportError:  # the role used from the diffy.diffy collection
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_tmpdirs import clean_leftovers


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tmp_parent=dict(type="path"),
            run_id=dict(type="str", required=True),
            host_id=dict(type="str", required=True),
        ),
        supports_check_mode=False,
    )
    p = module.params
    done = clean_leftovers(p["tmp_parent"], p["run_id"], p["host_id"])
    module.exit_json(changed=bool(done["removed"]), removed=done["removed"], killed=done["killed"])


if __name__ == "__main__":
    main()
