"""The lab's amazon.aws.aws_ec2 inventory file (the real plugin, pointed at the lab's moto server)."""

from __future__ import annotations

from pathlib import Path

from diffy_lab.ec2 import REGION

TEMPLATE = """\
# Written by `diffy lab up` for the lab {lab!r}. The real amazon.aws.aws_ec2 plugin, pointed at the
# lab's moto EC2 server; only usable inside the lab namespace (`diffy lab exec -- ...`).
# Lab only: the generated client key, and no host key checking (hosts are re-created on every `up`).
plugin: amazon.aws.aws_ec2
endpoint_url: {endpoint}
regions:
  - {region}
hostnames:
  - instance-id
filters:
  instance-state-name: running
  tag:diffy-lab: {lab}
keyed_groups:
  - key: tags.app
    prefix: ''
    separator: ''
  - key: tags['aws:autoscaling:groupName']
    prefix: asg
compose:
  ansible_host: private_ip_address
  ansible_user: "'root'"
  ansible_python_interpreter: "'/usr/bin/python3'"
  ansible_ssh_private_key_file: "'{key}'"
  ansible_ssh_common_args: "'-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'"
  ansible_control_path_dir: "'{control_dir}'"
"""


def write_inventory(path: Path, *, lab: str, endpoint: str, key: Path, control_dir: Path) -> Path:
    """Write the inventory; its name must end in ``aws_ec2.yml`` for the plugin to accept it."""
    if not path.name.endswith("aws_ec2.yml"):
        raise ValueError("an aws_ec2 inventory file name must end in aws_ec2.yml")
    path.write_text(
        TEMPLATE.format(lab=lab, endpoint=endpoint, region=REGION, key=key, control_dir=control_dir)
    )
    return path
