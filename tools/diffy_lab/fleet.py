"""Bring a whole lab up and down, and remember what was created in a state file so that `down`
(or the next `up`, after a crash) removes every namespace, link, process and file of it."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from diffy_analysis.errors import LabError
from diffy_lab import ec2, hosts, network, rootfs, spec
from diffy_lab.inventory import write_inventory
from diffy_lab.system import require_root, require_tools, run, terminate

DEFAULT_ROOT = Path("/run/diffy-lab")
MARKER = ".diffy-lab"  # only a directory holding this marker is ever removed by `down`
STATE = "state.json"
INVENTORY_NAME = "lab.aws_ec2.yml"
READY_TIMEOUT = 30.0

# Run inside the lab namespace: wait until every sshd answers with its banner (bounded).
_WAIT_SSH = """
import socket, sys, time
addrs, deadline = sys.argv[2:], time.monotonic() + float(sys.argv[1])
pending = set(addrs)
while pending and time.monotonic() < deadline:
    for a in sorted(pending):
        try:
            with socket.create_connection((a, 22), timeout=1) as s:
                s.settimeout(1)
                if s.recv(4).startswith(b"SSH-"):
                    pending.discard(a)
        except OSError:
            pass
    if pending:
        time.sleep(0.1)
print(" ".join(sorted(pending)))
"""


@dataclass
class LabConfig:
    name: str = "diffy"
    lab_dir: Path | None = None
    apps: list[tuple[str, int]] = field(default_factory=lambda: [("app_x", 6), ("app_y", 2)])
    subnet: str = "10.213.0.0/24"
    compromise: dict[str, list[str]] = field(default_factory=dict)
    """Lab host name -> artifacts to inject right after `up`."""
    keys: Path | None = None
    """A directory holding ``id_ed25519`` and ``attacker_ed25519`` (+ ``.pub``) to reuse instead of
    generating new ones: successive labs then look like instances of one image (``diffy validate``
    compares hosts of several labs)."""
    isolation: str = "bind"
    """Hosts' filesystem isolation: "bind" (per-host /etc, /root, /home, /tmp, /var/tmp, /run) or
    "overlay" (the whole root too, for running attack procedures: see lab/rootfs.py)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", self.name):
            raise LabError(f"bad lab name {self.name!r}: 1-12 lowercase letters and digits, a letter first")
        if self.isolation not in rootfs.ISOLATIONS:
            raise LabError(f"bad lab isolation {self.isolation!r}: one of {', '.join(rootfs.ISOLATIONS)}")
        if self.lab_dir is None:
            self.lab_dir = DEFAULT_ROOT / self.name
        self.lab_dir = Path(self.lab_dir)
        try:
            net = ipaddress.ip_network(self.subnet)
        except ValueError as err:
            raise LabError(f"bad lab subnet {self.subnet!r}: {err}") from err
        if net.version != 4 or not net.is_private or net.prefixlen > 24:
            raise LabError(f"lab subnet {self.subnet} must be a private IPv4 /24 or larger")


class Lab:
    """A local lab fleet. Create with a config, or ``Lab.load(lab_dir)`` for a running one."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.lab_dir: Path = config.lab_dir  # type: ignore[assignment]
        self.hosts: list[spec.LabHost] = []
        self.moto_pid: int | None = None

    # ----- names and paths
    @property
    def lab_ns(self) -> str:
        return f"{self.config.name}-lab"

    @property
    def inventory(self) -> Path:
        return self.lab_dir / INVENTORY_NAME

    @property
    def client_key(self) -> Path:
        return self.lab_dir / "ssh" / "id_ed25519"

    @property
    def attacker_key(self) -> Path:
        return self.lab_dir / "ssh" / "attacker_ed25519"

    def host(self, name: str) -> spec.LabHost:
        for host in self.hosts:
            if name in (host.name, host.instance_id, host.address):
                return host
        raise LabError(f"no lab host {name!r}", hint="see `diffy lab status`")

    def host_dir(self, name: str) -> Path:
        """The host's private state (etc/, root/, home/, tmp/, var-tmp/, run/, srv/), as seen from
        outside it: what tests search for footprints left on the host."""
        return hosts.host_dir(self.lab_dir, self.host(name))

    def hosts_of(self, app: str) -> list[spec.LabHost]:
        return [h for h in self.hosts if h.app == app]

    # ----- state
    @classmethod
    def load(cls, lab_dir: Path | str | None = None, name: str = "diffy") -> Lab:
        lab_dir = Path(lab_dir) if lab_dir else DEFAULT_ROOT / name
        try:
            doc = json.loads((lab_dir / STATE).read_text())
        except FileNotFoundError as err:
            raise LabError(f"no lab in {lab_dir}", hint="bring one up with `diffy lab up`") from err
        except (OSError, ValueError) as err:
            raise LabError(f"unreadable lab state {lab_dir / STATE}: {err}") from err
        config = LabConfig(
            name=doc["name"], lab_dir=lab_dir, apps=[tuple(a) for a in doc["apps"]], subnet=doc["subnet"],
            isolation=doc.get("isolation", "bind"),
        )  # fmt: skip
        lab = cls(config)
        lab.hosts = [spec.LabHost.from_json(h) for h in doc["hosts"]]
        lab.moto_pid = doc.get("moto_pid")
        return lab

    def save(self) -> None:
        doc = {
            "name": self.config.name,
            "apps": self.config.apps,
            "subnet": self.config.subnet,
            "isolation": self.config.isolation,
            "lab_ns": self.lab_ns,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "moto_pid": self.moto_pid,
            "endpoint": ec2.endpoint(),
            "inventory": str(self.inventory),
            "client_key": str(self.client_key),
            "hosts": [h.to_json() for h in self.hosts],
        }
        tmp = self.lab_dir / (STATE + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(self.lab_dir / STATE)

    # ----- up / down
    def up(self, *, timeout: float = READY_TIMEOUT) -> Lab:
        require_root()
        require_tools()
        planned = {h.name for h in spec.plan_hosts(self.config.name, self.config.apps, self.config.subnet)}
        unknown = sorted(set(self.config.compromise) - planned)
        if unknown:
            raise LabError(
                f"cannot compromise {', '.join(unknown)}: the lab's hosts are {', '.join(sorted(planned))}"
            )
        self.down()  # after a crash: whatever an earlier lab of this name left behind
        try:
            self._up(timeout)
        except BaseException:
            self.down()
            raise
        return self

    def _up(self, timeout: float) -> None:
        cfg = self.config
        self.lab_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        (self.lab_dir / MARKER).write_text("created by diffy lab up; removed by diffy lab down\n")
        self.hosts = spec.plan_hosts(cfg.name, cfg.apps, cfg.subnet)
        for host in self.hosts:
            host.isolation = cfg.isolation
        self.save()  # from here on `down` knows what to remove
        (self.lab_dir / "ssh").mkdir(mode=0o700)
        (self.lab_dir / "cp").mkdir(mode=0o700)
        keys = ((self.client_key, "diffy-lab-controller"), (self.attacker_key, "x@203.0.113.66"))
        for key, comment in keys:
            if cfg.keys is not None and (Path(cfg.keys) / key.name).is_file():
                for suffix in ("", ".pub"):
                    shutil.copy2(Path(cfg.keys) / (key.name + suffix), str(key) + suffix)
                continue
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
        prefixlen = ipaddress.ip_network(cfg.subnet).prefixlen
        network.create_lab_ns(self.lab_ns, spec.gateway(cfg.subnet))
        # moto takes seconds to boot: start it first, it gets ready while the hosts are built.
        self.moto_pid = ec2.start_moto(self.lab_ns, self.lab_dir / "moto.log")
        self.save()
        tag = network.link_tag(cfg.name)
        pubkey = self.client_key.with_suffix(".pub").read_text()
        for host in self.hosts:
            network.create_host_ns(self.lab_ns, host, prefixlen, tag)
            hosts.prepare(self.lab_dir, host, pubkey)
            host.pid = hosts.start(self.lab_dir, host)
        self.save()
        first_app = cfg.apps[0][0]
        plan = {
            "lab": cfg.name,
            "endpoint": ec2.endpoint(),
            "vpc_cidr": str(ipaddress.ip_network(cfg.subnet).supernet(new_prefix=16)),
            "subnet": cfg.subnet,
            "hosts": [{"name": h.name, "app": h.app, "address": h.address} for h in self.hosts],
            "asgs": {first_app: [h.name for h in self.hosts_of(first_app)]},
        }
        ids = ec2.seed(self.lab_ns, plan, timeout=timeout + 30)
        for host in self.hosts:
            host.instance_id = ids[host.name]
        write_inventory(
            self.inventory,
            lab=cfg.name,
            endpoint=ec2.endpoint(),
            key=self.client_key,
            control_dir=self.lab_dir / "cp",
        )
        self.save()
        self.wait_ready(self.hosts, timeout=timeout)
        for name, artifacts in cfg.compromise.items():
            self.inject(name, artifacts or list(spec.INJECTIONS))

    def wait_ready(self, targets: list[spec.LabHost], *, timeout: float = READY_TIMEOUT) -> None:
        """Wait (at most ``timeout`` seconds) until every target's sshd answers inside the lab."""
        out = run(
            ["ip", "netns", "exec", self.lab_ns, "/usr/bin/python3", "-c", _WAIT_SSH, str(timeout),
             *[h.address for h in targets]],
            timeout=timeout + 10,
        )  # fmt: skip
        if out.strip():
            names = [h.name for h in targets if h.address in out.split()]
            raise LabError(
                f"lab hosts did not start sshd within {timeout:g}s: {', '.join(names)}",
                hint=f"see {self.lab_dir}/hosts/<host>/host.log",
            )

    def down(self) -> list[str]:
        """Remove everything this lab created; safe to call on a half-built or already removed lab.

        Returns a list of what was removed (for the CLI to show)."""
        removed: list[str] = []
        state_file = self.lab_dir / STATE
        known_pids: list[int] = []
        if state_file.exists():
            try:
                old = Lab.load(self.lab_dir)
                known_pids = [p for h in old.hosts for p in [h.pid, *h.extra_pids] if p]
                if old.moto_pid:
                    known_pids.append(old.moto_pid)
            except LabError:
                pass
        pattern = re.compile(rf"^{re.escape(self.config.name)}-(lab|h\d+)$")
        namespaces = [ns for ns in network.list_netns() if pattern.match(ns)]
        ns_pids = [pid for ns in namespaces for pid in network.netns_pids(ns)]
        pids = sorted(set(known_pids) | set(ns_pids))
        if pids:
            terminate(pids)
            removed.append(f"{len(pids)} processes")
        for ns in namespaces:
            network.delete_netns(ns)
        if namespaces:
            removed.append(f"{len(namespaces)} network namespaces")
        links = network.leftover_links(network.link_tag(self.config.name))
        for link in links:
            run(["ip", "link", "del", link], check=False, timeout=10)
        if links:
            removed.append(f"{len(links)} leftover links")
        if (self.lab_dir / MARKER).exists():
            shutil.rmtree(self.lab_dir, ignore_errors=True)
            removed.append(str(self.lab_dir))
        elif state_file.exists():
            raise LabError(f"{self.lab_dir} has a lab state file but no {MARKER} marker; not removing it")
        self.hosts, self.moto_pid = [], None
        return removed

    # ----- operations on a running lab
    def stop_host(self, name: str) -> spec.LabHost:
        host = self.host(name)
        hosts.stop(host)
        self.save()
        return host

    def start_host(self, name: str, *, timeout: float = READY_TIMEOUT) -> spec.LabHost:
        host = self.host(name)
        if hosts.init_pid(host) is None:
            host.pid = hosts.start(self.lab_dir, host)
            host.artifacts = [a for a in host.artifacts if a != "listener"]  # processes did not survive
            self.save()
            self.wait_ready([host], timeout=timeout)
        return host

    def inject(self, name: str, artifacts: list[str]) -> spec.LabHost:
        host = self.host(name)
        attacker = self.attacker_key.with_suffix(".pub").read_text()
        for artifact in artifacts:
            hosts.inject(self.lab_dir, host, artifact, attacker)
        self.save()
        return host

    def status(self) -> dict:
        running = set(network.list_netns())
        hosts_doc = []
        for h in self.hosts:
            hosts_doc.append(
                {
                    "name": h.name,
                    "app": h.app,
                    "address": h.address,
                    "instance_id": h.instance_id,
                    "running": h.netns in running and hosts.init_pid(h) is not None,
                    "artifacts": h.artifacts,
                }
            )
        return {
            "name": self.config.name,
            "lab_dir": str(self.lab_dir),
            "lab_ns": self.lab_ns,
            "subnet": self.config.subnet,
            "moto": {"endpoint": ec2.endpoint(), "running": bool(self.moto_pid and _alive(self.moto_pid))},
            "inventory": str(self.inventory),
            "route_off_lab": self.lab_ns in running
            and network.has_route_off_lab(self.lab_ns, self.config.subnet),
            "hosts": hosts_doc,
        }

    # ----- the controller side: commands that must run inside the lab namespace
    def controller_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for ansible/diffy inside the lab: fake AWS credentials unless some are set
        already (moto accepts any), no instance-metadata lookups, the venv's bin first on PATH."""
        env = dict(os.environ if base is None else base)
        env.update(ec2.EC2_ENV)
        for key, value in ec2.FAKE_CREDENTIALS.items():
            env.setdefault(key, value)
        venv_bin = str(Path(sys.executable).parent)
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env.setdefault("ANSIBLE_DEPRECATION_WARNINGS", "False")
        env["ANSIBLE_HOST_KEY_CHECKING"] = "False"  # throwaway lab hosts, re-keyed on every `up`
        env["DIFFY_LAB_INVENTORY"] = str(self.inventory)
        return env

    def controller_argv(self, command: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.lab_ns, *command]

    def run_controller(self, command: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
        """Run a controller command (ansible-playbook, diffy ...) inside the lab namespace, bounded."""
        env = self.controller_env(kwargs.pop("env", None))
        return subprocess.run(self.controller_argv(command), env=env, timeout=timeout, check=False, **kwargs)


def _alive(pid: int) -> bool:
    from diffy_lab.system import pid_alive  # noqa: PLC0415

    return pid_alive(pid)


def in_lab(lab: Lab, func, *args, timeout: float = 1800, **kwargs):
    """Call ``func`` with the lab as its network (see ``controller.call_in_netns``); the controller
    environment (fake AWS credentials unless set, no instance metadata) must already be in
    ``os.environ`` — use ``lab.controller_env()`` to build it."""
    from diffy_lab.controller import call_in_netns  # noqa: PLC0415

    return call_in_netns(lab.lab_ns, func, *args, timeout=timeout, **kwargs)
