"""Where the Ansible content (the diffy.diffy collection: playbooks, roles, plugins, ansible.cfg, the
default pack) comes from for ``diffy collect``.

Three places, in this order:

1. ``$DIFFY_PROJECT_DIR``: an operator's own copy (a fork, an installed collection).
2. The copy shipped inside the wheel: setup.py's build step puts the collection under
   ``diffy_analysis/_collection/ansible_collections/diffy/diffy`` (``pip install diffy-analysis[collect]``
   then ``diffy collect`` works without a checkout).
3. The source checkout of an editable install (``pip install -e .``, scripts/setup.sh), recognised by
   its galaxy.yml naming the collection diffy.diffy, never assumed from the package's location alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from diffy_analysis.errors import CollectionError

PACKAGE = Path(__file__).resolve().parents[1]
# Relative to the package: the build step (setup.py) writes the collection here in the wheel.
SHIPPED = Path("_collection") / "ansible_collections" / "diffy" / "diffy"
_NAMESPACE = re.compile(r"^namespace:\s*diffy\s*$", re.MULTILINE)
_NAME = re.compile(r"^name:\s*diffy\s*$", re.MULTILINE)


def _is_collection(path: Path) -> bool:
    galaxy = path / "galaxy.yml"
    try:
        text = galaxy.read_text("utf-8")
    except OSError:
        return False
    return bool(_NAMESPACE.search(text) and _NAME.search(text)) and (path / "playbooks").is_dir()


def project_dir() -> Path:
    """The directory holding the collection's playbooks/, roles/, plugins/ and ansible.cfg."""
    override = os.environ.get("DIFFY_PROJECT_DIR")
    if override:
        path = Path(override).expanduser()
        if (path / "playbooks").is_dir():
            return path.resolve()
        raise CollectionError(f"DIFFY_PROJECT_DIR={override} has no playbooks/ directory")
    for candidate in (PACKAGE / SHIPPED, PACKAGE.parent):
        if _is_collection(candidate):
            return candidate
    raise CollectionError(
        "cannot find the Diffy Ansible collection (playbooks/, roles/, plugins/)",
        hint="reinstall the wheel (it ships the collection), or set DIFFY_PROJECT_DIR to a checkout",
    )


def collections_root(project: Path) -> Path | None:
    """The directory to put on ANSIBLE_COLLECTIONS_PATH so that diffy.diffy.* resolves to ``project``:
    the parent of its ansible_collections/ when it is laid out as an installed collection (the wheel's
    copy), or a checkout's collections/ (which holds a symlink ansible_collections/diffy/diffy -> ..)."""
    if project.parent.parent.name == "ansible_collections":
        return project.parents[2]
    link = project / "collections" / "ansible_collections" / "diffy" / "diffy"
    if link.exists() and link.resolve() == project.resolve():
        return project / "collections"
    return None
