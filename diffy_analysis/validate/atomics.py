"""Select the Atomic Red Team procedures ``diffy validate`` can run: Linux, unattended, offline,
leaving durable state. Every exclusion carries its reason.

Reads a local checkout (``atomics/T*/T*.yaml``, Atomic Red Team's own format): nothing of it is
vendored. The selection is a plan: what a validation run would execute, one procedure per lab host.

Rules, in order (the first that applies excludes a test):

1. ``supported_platforms`` lacks ``linux``.
2. The executor is not ``sh``/``bash`` (``manual`` steps or PowerShell cannot run unattended).
3. The technique leaves no durable state by its nature (discovery, collection, exfiltration, C2,
   credential reads: ``TRANSIENT_TECHNIQUES``), or it is not one of the families that change the
   host for good (persistence, privilege escalation, defense evasion, impact on files and accounts:
   ``DURABLE_TECHNIQUES``): there is nothing for a differencing engine to find afterwards.
   ``DISRUPTIVE_TECHNIQUES`` (shutdown, reboot) would take the lab host itself down.
4. The command or its prerequisites need the network (a download, a package install, a clone, a
   remote host): lab hosts are offline. Or they act on the kernel (sysrq, swap, kernel modules,
   kernel/vm/fs sysctls, reboot), which lab hosts share with the machine: ``_KERNEL``.
5. The command needs an interactive session, a GUI or a second machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from diffy_analysis.errors import UsageError

MAX_ATOMIC_BYTES = 2 * 1024 * 1024
RUNNABLE_EXECUTORS = frozenset({"sh", "bash"})

# ATT&CK techniques whose procedures observe or move data rather than change the host (discovery
# T1007-T1135 family, collection, exfiltration, C2, credential reads): left out, with this reason.
TRANSIENT_TECHNIQUES: dict[str, str] = {
    "T1003": "credential dumping reads memory/files, it leaves no durable change",
    "T1005": "collection from the local system leaves no durable change",
    "T1007": "discovery", "T1016": "discovery", "T1018": "discovery", "T1033": "discovery",
    "T1040": "network sniffing is live traffic capture, no durable change",
    "T1046": "discovery", "T1049": "discovery", "T1057": "discovery", "T1069": "discovery",
    "T1074": "data staging for exfiltration (transient by design)",
    "T1082": "discovery", "T1083": "discovery", "T1087": "discovery", "T1113": "collection (screen capture)",
    "T1115": "collection (clipboard)", "T1135": "discovery", "T1201": "discovery", "T1217": "discovery",
    "T1497": "sandbox checks read state only", "T1518": "discovery",
    "T1552": "credential search reads files only",
    "T1560": "archiving collected data for exfiltration", "T1571": "C2 traffic on a port, no durable change",
    "T1048": "exfiltration needs a remote peer", "T1041": "exfiltration needs a remote peer",
    "T1105": "ingress tool transfer needs the network", "T1110": "brute force needs a service to attack",
    "T1016.001": "discovery", "T1614": "discovery", "T1619": "discovery", "T1120": "discovery",
    "T1124": "discovery", "T1012": "discovery", "T1010": "discovery", "T1580": "discovery (cloud)",
    "T1526": "discovery (cloud)", "T1613": "discovery (containers)",
}  # fmt: skip

# Families whose procedures change files, accounts, services or kernel state and leave them changed.
DURABLE_TECHNIQUES = frozenset(
    {
        "T1014", "T1027", "T1036", "T1037", "T1053", "T1070", "T1078", "T1098", "T1136", "T1222",
        "T1485", "T1486", "T1489", "T1505", "T1531", "T1543", "T1546", "T1547", "T1548", "T1553",
        "T1554", "T1556", "T1562", "T1564", "T1565", "T1574", "T1685", "T1686", "T1690",
    }
)  # fmt: skip
DISRUPTIVE_TECHNIQUES = {"T1529": "shuts down or reboots the host (would stop the lab host itself)"}

_NETWORK = re.compile(
    r"\b(curl|wget|git\s+clone|apt(-get)?\s+(install|update)|yum\s+install|dnf\s+install|pip3?\s+install|"
    r"npm\s+install|go\s+get|ssh\s+\S+@|scp\s|nc\s+-?\w*\s*\d+\.\d+\.\d+\.\d+|https?://)",
    re.IGNORECASE,
)
# Lab hosts share the machine's kernel (the overlay isolates files only): a test that acts on it would
# change the machine, or cannot work in a namespace host at all. The lab also blocks these (read-only
# kernel sysctls and sysrq, no module/boot/time capabilities: docs/validation.md); this rule says so
# up front instead of recording a failure.
_KERNEL = re.compile(
    r"/proc/sysrq-trigger|\bswapo(ff|n)\b|\b(insmod|modprobe|rmmod)\b|\bsysctl\s+-w\s+(kernel|vm|fs)\.|"
    r"/proc/sys/(kernel|vm|fs)/|^\s*(sudo\s+)?(reboot|shutdown|poweroff|halt)\b",
    re.MULTILINE,
)
_INTERACTIVE = re.compile(r"\b(xdotool|gnome-|xterm|zenity|osascript|screen\s+-r|read\s+-p|sudo\s+-S)\b")


@dataclass(frozen=True)
class Atomic:
    """One atomic test of a technique, as its YAML declares it."""

    technique: str
    number: int
    """1-based position in the technique's file (Atomic Red Team's ``-TestNumbers``)."""
    name: str
    guid: str
    executor: str
    command: str
    cleanup: str
    elevation: bool
    prereqs: tuple[tuple[str, str], ...]
    """(prereq_command, get_prereq_command) pairs, with input arguments filled in."""
    source: str

    @property
    def test_id(self) -> str:
        return f"{self.technique}-{self.number}"


@dataclass(frozen=True)
class Exclusion:
    technique: str
    number: int
    name: str
    reason: str


@dataclass
class Plan:
    selected: list[Atomic] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    techniques: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "techniques_read": self.techniques,
            "selected": [
                {
                    "technique": a.technique,
                    "test": a.number,
                    "name": a.name,
                    "guid": a.guid,
                    "executor": a.executor,
                    "elevation_required": a.elevation,
                    "prerequisites": len(a.prereqs),
                }
                for a in self.selected
            ],
            "excluded": [
                {"technique": e.technique, "test": e.number, "name": e.name, "reason": e.reason}
                for e in self.excluded
            ],
        }


def fill(text: str, arguments: dict[str, Any]) -> str:
    """Atomic Red Team's ``#{name}`` placeholders, replaced by the input arguments' defaults."""
    return re.sub(r"#\{(\w+)\}", lambda m: str(arguments.get(m.group(1), m.group(0))), text or "")


def _defaults(test: dict[str, Any]) -> dict[str, Any]:
    args = test.get("input_arguments") or {}
    return {k: (v or {}).get("default", "") for k, v in args.items() if isinstance(v, dict)}


def _technique_reason(technique: str) -> str | None:
    family = technique.split(".", maxsplit=1)[0]
    if family in DISRUPTIVE_TECHNIQUES:
        return DISRUPTIVE_TECHNIQUES[family]
    transient = TRANSIENT_TECHNIQUES.get(technique) or TRANSIENT_TECHNIQUES.get(family)
    if transient:
        return f"leaves no durable state: {transient}"
    if family not in DURABLE_TECHNIQUES:
        return "leaves no durable state: not a persistence, privilege, evasion or impact family"
    return None


def _judge(test: dict[str, Any], technique: str) -> tuple[str | None, Atomic | None]:
    """(exclusion reason, None) or (None, the parsed atomic)."""
    platforms = [str(p).lower() for p in test.get("supported_platforms") or []]
    if "linux" not in platforms:
        return f"not a Linux test ({', '.join(platforms) or 'no platform'})", None
    executor = test.get("executor") or {}
    name = str(executor.get("name", ""))
    if name not in RUNNABLE_EXECUTORS:
        return f"executor {name or 'missing'} cannot run unattended", None
    reason = _technique_reason(technique)
    if reason:
        return reason, None
    args = _defaults(test)
    command = fill(str(executor.get("command", "")), args)
    prereqs = tuple(
        (fill(str(d.get("prereq_command", "")), args), fill(str(d.get("get_prereq_command", "")), args))
        for d in test.get("dependencies") or []
        if isinstance(d, dict)
    )
    offline_text = command + "\n" + "\n".join(p for p, _ in prereqs)
    network = _NETWORK.search(offline_text)
    if network:
        return f"needs the network ({network.group(0).strip()})", None
    kernel = _KERNEL.search(offline_text)
    if kernel:
        return f"acts on the kernel, which lab hosts share with the machine ({kernel.group(0).strip()})", None
    # a prerequisite that must be fetched is only a problem when it is not already met: that is
    # decided on the host (prereq_command), so a get_prereq needing the network is recorded there
    if _INTERACTIVE.search(command):
        return "needs an interactive session or a GUI", None
    if not command.strip():
        return "no command", None
    atomic = Atomic(
        technique=technique,
        number=0,
        name=str(test.get("name", "")),
        guid=str(test.get("auto_generated_guid", "")),
        executor=name,
        command=command,
        cleanup=fill(str(executor.get("cleanup_command", "") or ""), args),
        elevation=bool(executor.get("elevation_required", False)),
        prereqs=prereqs,
        source="",
    )
    return None, atomic


def technique_files(root: Path) -> list[Path]:
    atomics = root / "atomics" if (root / "atomics").is_dir() else root
    if not atomics.is_dir():
        raise UsageError(f"{root} is not an Atomic Red Team checkout (no atomics/ directory)")
    files = sorted(p for p in atomics.glob("T*/T*.yaml") if p.is_file() and not p.is_symlink())
    if not files:
        raise UsageError(f"{root} is not an Atomic Red Team checkout (no atomics/T*/T*.yaml files)")
    return files


def _load(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_ATOMIC_BYTES:
        raise UsageError(f"{path}: larger than {MAX_ATOMIC_BYTES} bytes, not an atomic")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not readable as atomic YAML: {err}") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("atomic_tests"), list):
        raise UsageError(f"{path}: no atomic_tests list")
    return doc


def iter_tests(paths: Iterable[Path]) -> Iterator[tuple[Path, str, int, dict[str, Any]]]:
    for path in paths:
        doc = _load(path)
        technique = str(doc.get("attack_technique") or path.stem)
        for number, test in enumerate(doc["atomic_tests"], start=1):
            if isinstance(test, dict):
                yield path, technique, number, test


def plan(root: Path, *, techniques: Iterable[str] = ()) -> Plan:
    """The selection over a checkout (optionally only some techniques), with every exclusion."""
    wanted = {t.upper() for t in techniques}
    files = [p for p in technique_files(root) if not wanted or p.stem.upper() in wanted]
    result = Plan(techniques=len(files))
    for path, technique, number, test in iter_tests(files):
        reason, atomic = _judge(test, technique)
        name = str(test.get("name", ""))
        if reason is not None or atomic is None:
            result.excluded.append(Exclusion(technique, number, name, reason or "not runnable"))
            continue
        result.selected.append(
            Atomic(**{**atomic.__dict__, "number": number, "source": str(path.relative_to(path.parents[2]))})
        )
    return result
