#!/usr/bin/python
# Diffy: map inventory hostnames to the results contract's host ids (runs on the controller).
# Standard library only.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diffy_host_ids
short_description: Map inventory hostnames to Diffy host ids
description:
  - Applies the results contract's host_id rule (only C([A-Za-z0-9._-]), never C(.) or C(..), at most
    200 characters, a hash suffix for names that had to be changed) to every host of the play.
  - Reports the names whose host id another name of the play also has; the collect role collects
    none of them, so no host's results overwrite another's.
options:
  hosts:
    description: Inventory hostnames.
    type: list
    elements: str
    required: true
author: Diffy engineers (@diffy)
"""

EXAMPLES = r"""
- name: Host ids for every host of the play (on the controller)
  diffy_host_ids:
    hosts: "{{ ansible_play_hosts_all }}"
  register: diffy_collect_host_ids
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
host_ids:
  description: "C({inventory hostname: host id})."
  type: dict
  returned: always
shared:
  description: Names whose host id is not unique in the play.
  type: list
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule

try:
    from ansible.module_utils.diffy_host_id import host_ids
except ImportError:  # the role used from the diffy.diffy collection
    from ansible_collections.diffy.diffy.plugins.module_utils.diffy_host_id import host_ids


def main():
    module = AnsibleModule(
        argument_spec={"hosts": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    ids, shared = host_ids(module.params["hosts"])
    module.exit_json(changed=False, host_ids=ids, shared=shared)


if __name__ == "__main__":
    main()
