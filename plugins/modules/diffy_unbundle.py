#!/usr/bin/python
# Diffy: unpack one host's result bundle on the controller, defensively, and verify every hash.
# Standard library only.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: diffy_unbundle
short_description: Unpack a host's Diffy result bundle on the controller and verify its hashes
description:
  - The bundle comes from a host under investigation, so it is treated as hostile input. Only regular
    files with a flat, safe name (C([A-Za-z0-9._-]+.json)) that the host's module reported are
    written; links, directories, device files and path tricks are refused.
  - Every file's sha256 must equal the hash computed on the host before transfer; files are written
    0600 into the host's results directory. The bundle is removed afterwards.
options:
  bundle:
    description: Path of the fetched bundle on the controller.
    type: path
    required: true
  dest:
    description: The host's results directory (created 0700 if missing).
    type: path
    required: true
  expected:
    description: "C({file name: sha256}) as reported by diffy_run_pack on the host."
    type: dict
    required: true
  max_bytes:
    description: Refuse a bundle whose files add up to more than this many bytes.
    type: int
    default: 4294967296
author: Diffy engineers (@diffy)
"""

EXAMPLES = r"""
- name: Unpack and verify one host's fetched bundle on the controller
  diffy_unbundle:
    bundle: "{{ run_dir }}/.incoming/{{ host_id }}.tar.gz"
    dest: "{{ run_dir }}/hosts/{{ host_id }}"
    expected: "{{ diffy_collect_pack_result.hashes }}"
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: Names of the files written.
  type: list
  returned: success
bytes:
  description: Total bytes written.
  type: int
  returned: success
"""

import hashlib
import os
import re
import tarfile

from ansible.module_utils.basic import AnsibleModule

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,250}\.json$")


def unbundle(bundle, dest, expected, max_bytes):
    """Write the expected files from the bundle into dest; return (names, bytes).  Raises ValueError."""
    written, total = [], 0
    if not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    os.chmod(dest, 0o700)
    with tarfile.open(bundle, mode="r:gz") as tar:
        for member in tar:
            name = member.name
            if not member.isreg() or not _SAFE.match(name) or name in (".json", "..json"):
                raise ValueError("refusing bundle entry %r (not a plain result file)" % name)
            if name not in expected:
                raise ValueError("bundle entry %r was not reported by the host" % name)
            if name in written:
                raise ValueError("bundle entry %r appears twice" % name)
            total += member.size
            if total > max_bytes:
                raise ValueError("bundle is larger than %d bytes" % max_bytes)
            source = tar.extractfile(member)
            digest = hashlib.sha256()
            target = os.path.join(dest, name)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while True:
                    block = source.read(1 << 20)
                    if not block:
                        break
                    digest.update(block)
                    out.write(block)
            os.chmod(target, 0o600)
            if digest.hexdigest() != expected[name]:
                os.remove(target)
                raise ValueError("%s: sha256 on the controller differs from the host's" % name)
            written.append(name)
    missing = sorted(set(expected) - set(written))
    if missing:
        raise ValueError("bundle lacks files the host reported: %s" % ", ".join(missing[:10]))
    return written, total


def main():
    module = AnsibleModule(
        argument_spec={
            "bundle": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "expected": {"type": "dict", "required": True},
            "max_bytes": {"type": "int", "default": 4294967296},
        },
        supports_check_mode=False,
    )
    p = module.params
    try:
        names, total = unbundle(p["bundle"], p["dest"], p["expected"], p["max_bytes"])
    except (ValueError, OSError, tarfile.TarError, EOFError) as exc:
        module.fail_json(msg="bad result bundle from the host: %s" % exc)
    finally:
        if os.path.exists(p["bundle"]):
            os.remove(p["bundle"])
    module.exit_json(changed=True, files=names, bytes=total)


if __name__ == "__main__":
    main()
