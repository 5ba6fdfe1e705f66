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
LIBRARY = REPO / "plugins" / "modules"
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

    sys.path.insert(0, str(REPO / "plugins" / "module_utils"))
    try:
        loader_spec = importlib.util.spec_from_file_location(f"_doc_{name}", LIBRARY / f"{name}.py")
        module = importlib.util.module_from_spec(loader_spec)
        for path in sorted((REPO / "plugins/module_utils").glob("*.py")):
            util = path.stem
            sys.modules.setdefault(f"ansible.module_utils.{util}", importlib.import_module(util))
        loader_spec.loader.exec_module(module)
        module.AnsibleModule = Recorder
        with pytest.raises(_Captured):
            module.main()
    finally:
        sys.path.remove(str(REPO / "plugins" / "module_utils"))
    return spec


def _ansible_doc(*args: str) -> subprocess.CompletedProcess[str]:
    """ansible-doc as a user of the checkout runs it: the repository's ansible.cfg, whose
    collections_path finds diffy.diffy through collections/ansible_collections/diffy/diffy."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
             "ANSIBLE_DEPRECATION_WARNINGS": "False"},
    )  # fmt: skip


def ansible_doc(name: str) -> dict[str, Any]:
    proc = _ansible_doc("-t", "module", "--json", f"diffy.diffy.{name}")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)[f"diffy.diffy.{name}"]


def test_modules_are_real_files_listed_by_ansible_doc() -> None:
    """Symlinked modules were invisible to `ansible-doc -l` and skipped by validate-modules."""
    assert MODULES, "no module found under plugins/modules"
    for path in [*LIBRARY.glob("*.py"), *(REPO / "plugins/module_utils").glob("*.py")]:
        assert not path.is_symlink(), f"{path} must be a real file"
    assert not (REPO / "roles/diffy_collect/library").exists(), "roles call the collection's modules by FQCN"
    proc = _ansible_doc("-t", "module", "-l", "diffy.diffy", "--json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)) == [f"diffy.diffy.{name}" for name in MODULES]
    roles = _ansible_doc("-t", "role", "-l", "diffy.diffy", "--json")
    assert roles.returncode == 0, roles.stderr
    assert {"diffy.diffy.diffy_collect", "diffy.diffy.osquery"} <= set(json.loads(roles.stdout))


def test_roles_call_the_modules_by_fqcn() -> None:
    tasks = [
        t for f in sorted((REPO / "roles").glob("*/tasks/*.yml")) for t in yaml.safe_load(f.read_text()) or []
    ]

    def keys(task: dict[str, Any]) -> list[str]:
        inner = [k for key in ("block", "rescue", "always") for t in task.get(key, []) for k in keys(t)]
        return [*task, *inner]

    used = {k for task in tasks for k in keys(task)}
    assert not used & set(MODULES), "a module called by its short name (it only resolved from library/)"
    assert {f"diffy.diffy.{name}" for name in MODULES} <= used


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
