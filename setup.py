"""Build step that makes the wheel stand alone (issue 16): the Ansible collection diffy.diffy (playbooks,
roles with the default pack, plugins, galaxy.yml, ansible.cfg) is copied into the package as
diffy_analysis/_collection/ansible_collections/diffy/diffy, where diffy_analysis/collect/content.py
finds it.  Everything else is in pyproject.toml.  An editable install skips the copy: it runs from the
checkout, which is the collection itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# What a collection run needs; the same files ansible-galaxy would publish for these directories.
CONTENT = ["galaxy.yml", "ansible.cfg", "LICENSE", "meta", "playbooks", "roles", "plugins", "inventory"]
TARGET = Path("diffy_analysis") / "_collection" / "ansible_collections" / "diffy" / "diffy"
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithCollection(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / TARGET
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for name in CONTENT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, dest / name, ignore=SKIP, symlinks=False)
            elif source.is_file():
                shutil.copy2(source, dest / name)


setup(cmdclass={"build_py": BuildWithCollection})
