"""The lab's EC2 API: a moto server inside the lab namespace, seeded with one instance per host.

Each instance carries its lab host's real address as PrivateIpAddress (moto honours it inside a
subnet), tags ``app``, ``Name`` and ``diffy-lab``; the first app's instances also join an Auto Scaling
group (moto then tags them ``aws:autoscaling:groupName``), like a real fleet.

Seeding runs inside the lab namespace (``python -m diffy_lab.ec2``), where the moto server's
loopback address is reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from diffy_analysis.errors import LabError

REGION = "us-east-1"
MOTO_PORT = 5000
IMAGE_ID = "ami-12c6146b"  # an image moto knows (its default Amazon Linux AMI list)
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
EC2_ENV = {"AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}


def endpoint(port: int = MOTO_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def start_moto(lab_ns: str, log_path: Path, port: int = MOTO_PORT) -> int:
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        raise LabError(
            "moto_server is not installed in this Python environment",
            hint="pip install 'diffy-analysis[lab]' (moto[server])",
        )
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", lab_ns, str(moto), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    return proc.pid


def seed(lab_ns: str, plan: dict, *, timeout: float = 60) -> dict[str, str]:
    """Create the instances described by ``plan`` in the lab's moto; return host name -> instance id."""
    # The subprocess imports diffy_lab (tools/) and diffy_analysis (the checkout) even when neither
    # is installed in this interpreter (pytest puts tools/ on sys.path, not on PYTHONPATH).
    here = Path(__file__).resolve()
    package_root = os.pathsep.join([str(here.parents[1]), str(here.parents[2])])
    env = {
        **os.environ,
        **EC2_ENV,
        **FAKE_CREDENTIALS,
        "PYTHONPATH": package_root,
    }
    try:
        proc = subprocess.run(
            ["ip", "netns", "exec", lab_ns, sys.executable, "-m", "diffy_lab.ec2"],
            input=json.dumps(plan), capture_output=True, text=True, timeout=timeout, env=env, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as err:
        raise LabError(f"seeding the lab's moto EC2 server timed out after {timeout:g}s") from err
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise LabError("seeding the lab's moto EC2 server failed: " + " | ".join(tail))
    return json.loads(proc.stdout)


def _wait_for(url: str, deadline: float) -> None:
    import urllib.request  # noqa: PLC0415 - only inside the lab namespace

    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _seed_main(plan: dict) -> dict[str, str]:
    import boto3  # noqa: PLC0415 - heavy, only needed when seeding

    url = plan["endpoint"]
    _wait_for(url, time.monotonic() + 30)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url)
    asg = boto3.client("autoscaling", region_name=REGION, endpoint_url=url)
    vpc = ec2.create_vpc(CidrBlock=plan["vpc_cidr"])["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=plan["subnet"], AvailabilityZone=REGION + "a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    ids: dict[str, str] = {}
    for host in plan["hosts"]:
        tags = [
            {"Key": "Name", "Value": host["name"]},
            {"Key": "app", "Value": host["app"]},
            {"Key": "diffy-lab", "Value": plan["lab"]},
        ]
        out = ec2.run_instances(
            ImageId=IMAGE_ID, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet_id,
            PrivateIpAddress=host["address"],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )  # fmt: skip
        ids[host["name"]] = out["Instances"][0]["InstanceId"]
    for app, members in plan.get("asgs", {}).items():
        name = f"{app}-asg"
        launch = f"{app}-lc"
        asg.create_launch_configuration(
            LaunchConfigurationName=launch, ImageId=IMAGE_ID, InstanceType="t3.micro"
        )
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, LaunchConfigurationName=launch, MinSize=0,
            MaxSize=len(members) + 5, DesiredCapacity=0, VPCZoneIdentifier=subnet_id,
        )  # fmt: skip
        asg.attach_instances(InstanceIds=[ids[m] for m in members], AutoScalingGroupName=name)
    return ids


if __name__ == "__main__":
    print(json.dumps(_seed_main(json.load(sys.stdin))))
