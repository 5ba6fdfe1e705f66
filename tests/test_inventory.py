"""inventory/aws_ec2.yml with the real amazon.aws.aws_ec2 plugin, against a moto EC2 server on loopback.

Every AWS endpoint is pointed at moto (AWS_ENDPOINT_URL) with fake credentials and no config files,
so nothing can reach real AWS.
"""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from collection_helpers import REPO, VENV_BIN, ansible_env, free_port, start_moto

INVENTORY = REPO / "inventory" / "aws_ec2.yml"
COLLECT = REPO / "playbooks" / "collect.yml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """moto EC2 with app_x (standalone + Auto Scaling group), app_y, a stopped app_x, an untagged one."""
    port = free_port()
    proc = start_moto(port, tmp_path_factory.mktemp("moto") / "moto.log")
    url = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
        "AWS_URL": url,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "DIFFY_AWS_REGION": "",
        "DIFFY_AWS_ROLE_ARN": "",
    }
    try:
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        ec2 = session.client("ec2", endpoint_url=url, region_name="us-east-1")
        ami = ec2.describe_images()["Images"][0]["ImageId"]
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]

        def launch(tags, count=1, region_client=ec2, image=ami, **extra):
            spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
            out = region_client.run_instances(
                ImageId=image,
                MinCount=count,
                MaxCount=count,
                InstanceType="t3.micro",
                TagSpecifications=spec,
                **extra,
            )
            return [i["InstanceId"] for i in out["Instances"]]

        app_x = launch({"app": "app_x", "env": "prod", "role": "web"}, count=2, SubnetId=subnet)
        app_y = launch({"app": "app_y", "env": "prod"}, SubnetId=subnet)
        untagged = launch({"purpose": "scratch"}, SubnetId=subnet)  # no app tag
        stopped = launch({"app": "app_x"}, SubnetId=subnet)
        ec2.stop_instances(InstanceIds=stopped)

        asg = session.client("autoscaling", endpoint_url=url, region_name="us-east-1")
        asg.create_launch_configuration(
            LaunchConfigurationName="app-x-lc", ImageId=ami, InstanceType="t3.micro"
        )
        asg.create_auto_scaling_group(
            AutoScalingGroupName="app-x-asg",
            LaunchConfigurationName="app-x-lc",
            MinSize=2,
            MaxSize=2,
            DesiredCapacity=2,
            VPCZoneIdentifier=subnet,
            Tags=[
                {
                    "Key": "app",
                    "Value": "app_x",
                    "PropagateAtLaunch": True,
                    "ResourceId": "app-x-asg",
                    "ResourceType": "auto-scaling-group",
                }
            ],
        )
        members = [
            i["InstanceId"]
            for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=["app-x-asg"])[
                "AutoScalingGroups"
            ][0]["Instances"]
        ]
        assert len(members) == 2

        west = session.client("ec2", endpoint_url=url, region_name="us-west-2")
        west_ami = west.describe_images()["Images"][0]["ImageId"]
        app_x_west = launch({"app": "app_x"}, region_client=west, image=west_ami)
        yield {
            "env": env,
            "app_x": set(app_x),
            "asg": set(members),
            "app_y": set(app_y),
            "untagged": set(untagged),
            "stopped": set(stopped),
            "app_x_west": set(app_x_west),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def moto_env(fleet, extra_env=None) -> dict[str, str]:
    env = ansible_env({**fleet["env"], **(extra_env or {})})
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)  # only the fake credentials, only moto
    return env


def inventory_json(fleet, *args, extra_env=None):
    env = moto_env(fleet, extra_env)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def group_members(fleet, extra_env=None) -> dict[str, set[str]]:
    """{group: hosts} from `ansible-inventory --graph` (plain text, no tagged values)."""
    groups: dict[str, set[str]] = {}
    current = None
    for line in inventory_json(fleet, "--graph", extra_env=extra_env).splitlines():
        text = line.strip(" |-")
        if text.startswith("@"):
            current = text[1:-1]
            groups.setdefault(current, set())
        elif current and text:
            groups[current].add(text)
    return groups


def test_app_tag_gives_a_group_named_exactly_after_the_app(fleet):
    groups = group_members(fleet)
    assert groups["app_x"] == fleet["app_x"] | fleet["asg"], "running app_x instances incl. the ASG"
    assert groups["app_y"] == fleet["app_y"]
    assert groups["asg_app_x_asg"] == fleet["asg"]
    assert groups["env_prod"] == fleet["app_x"] | fleet["app_y"]
    assert groups["role_web"] == fleet["app_x"]
    every = set().union(*groups.values())
    assert not every & fleet["stopped"], "stopped instances are not listed"
    assert fleet["untagged"] <= every, "untagged running instances are listed (but in no app group)"
    assert not every & fleet["app_x_west"], "only the configured region"


def test_hostvars_name_by_instance_id_and_connect_by_private_ip(fleet):
    host = sorted(fleet["asg"])[0]
    hostvars = json.loads(inventory_json(fleet, "--host", host))
    assert hostvars["instance_id"] == host
    assert hostvars["ansible_host"] == hostvars["private_ip_address"]
    assert hostvars["tags"]["aws:autoscaling:groupName"] == "app-x-asg"
    assert hostvars["placement"]["region"] == "us-east-1"
    assert hostvars["owner_id"]


def test_limit_app_x_selects_exactly_the_app_x_instances(fleet):
    """The ops command itself: `ansible-playbook playbooks/collect.yml -l app_x` (listing only)."""
    env = moto_env(fleet)
    proc = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(INVENTORY),
            str(COLLECT),
            "-l",
            "app_x",
            "--list-hosts",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = {line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("i-")}
    assert listed == fleet["app_x"] | fleet["asg"]


def test_region_and_assumed_role_come_from_the_environment(fleet):
    groups = group_members(
        fleet,
        extra_env={
            "DIFFY_AWS_REGION": "us-west-2",
            "DIFFY_AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/diffy-responder",
        },
    )
    assert groups["app_x"] == fleet["app_x_west"]
