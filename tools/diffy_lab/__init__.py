"""The local lab fleet: real hosts in network namespaces, SSH, and a moto EC2 API describing them.

``Lab(config).up()`` brings up namespaced hosts (own network, PID, mount and UTS namespaces, sshd,
per-host /etc, /root, /home, /tmp), a moto EC2 server holding one instance per host, and an
amazon.aws.aws_ec2 inventory file for them.  Everything lives in a dedicated lab network namespace
that has no uplink: nothing in the lab can reach, or be reached from, outside this machine.
See docs/lab.md.
"""

from __future__ import annotations

from diffy_lab.fleet import Lab, LabConfig
from diffy_lab.spec import INJECTIONS, LabHost

__all__ = ["INJECTIONS", "Lab", "LabConfig", "LabHost"]
