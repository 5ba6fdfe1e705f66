"""Every module of the collection documents itself the way Ansible's tools read it: ansible-doc
renders DOCUMENTATION, EXAMPLES and RETURN, and the documented options are exactly the module's
argument spec, with the same types, defaults, choices and required flags (issue 16)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "roles" / "diffy_collect" / "library"
MODULES = sorted(p.stem for p in LIBRARY.glob("*.py"))


class _Captured(Exception):
    pass


def argument_spec(name: str) -> dict[str, Any]:
    """The argument_spec a module passes to AnsibleModule, read by running its main() against a
    stand-in AnsibleModule that records the spec and stops."""
    spec: dict[str, Any] = {}

    class Recorder:
        def __init__(self, argument_spec: dict[str, Any], **_: Any) -> None:
            spec.update(argument_spec)
            raise _Captured

    sys.path.insert(0, str(REPO / "roles" / "diffy_collect" / "module_utils"))
    try:
        loader_spec = importlib.util.spec_from_file_location(f"_doc_{name}", LIBRARY / f"{name}.py")
        module = importlib.util.module_from_spec(loader_spec)
        for util in ("diffy_host_id", "diffy_native_engine", "diffy_native_tables"):
            if util in sys.modules or (REPO / "roles/diffy_collect/module_utils" / f"{util}.py").exists():
                sys.modules.setdefault(f"ansible.module_utils.{util}", importlib.import_module(util))
        loader_spec.loader.exec_module(module)
        module.AnsibleModule = Recorder
        with pytest.raises(_Captured):
            module.main()
    finally:
        sys.path.remove(str(REPO / "roles" / "diffy_collect" / "module_utils"))
    return spec


def ansible_doc(name: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json", name],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "ANSIBLE_LIBRARY": str(LIBRARY), "ANSIBLE_DEPRECATION_WARNINGS": "False"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)[name]


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders_the_module(name: str) -> None:
    doc = ansible_doc(name)
    assert doc["doc"]["module"] == name
    assert doc["doc"]["short_description"]
    assert doc["examples"] and yaml.safe_load(doc["examples"]), "EXAMPLES must be valid YAML tasks"
    assert doc["return"], "RETURN must be documented"
    for task in yaml.safe_load(doc["examples"]):
        assert name in task, f"an example of {name} that does not call it: {task}"


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_are_the_argument_spec(name: str) -> None:
    documented = ansible_doc(name)["doc"]["options"]
    spec = argument_spec(name)
    assert set(documented) == set(spec)
    for option, arg in spec.items():
        doc = documented[option]
        assert doc.get("type", "str") == arg.get("type", "str"), option
        assert bool(doc.get("required", False)) == bool(arg.get("required", False)), option
        assert doc.get("default") == arg.get("default"), option
        assert doc.get("choices") == arg.get("choices"), option
        if arg.get("type") == "list":
            assert doc.get("elements") == arg.get("elements"), option
