"""The package and the collection describe themselves consistently: one version, one Ansible floor,
a licence file, ``--version`` on both commands (issue 16)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from diffy_analysis import __version__
from diffy_analysis.cli.main import diffy, load_command

REPO = Path(__file__).resolve().parents[1]


def test_one_version_source_everyone_agrees_with() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert "version" not in project["project"], "the version lives in diffy_analysis.__version__ only"
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "diffy_analysis.__version__"}
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text("utf-8"))
    assert galaxy["version"] == __version__
    role_vars = yaml.safe_load((REPO / "roles/diffy_collect/vars/main.yml").read_text("utf-8"))
    assert role_vars["diffy_collect_version"] == __version__


def test_ansible_floor_is_the_same_in_python_and_collection_metadata() -> None:
    """ansible N bundles ansible-core 2.(N+7): the pip floor and requires_ansible must name one core."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert not [d for d in project["project"]["dependencies"] if d.startswith("ansible")], "collect extra"
    pins = [d for d in project["project"]["optional-dependencies"]["collect"] if re.match(r"ansible[<>=]", d)]
    assert len(pins) == 1
    community_floor = int(re.search(r">=(\d+)", pins[0]).group(1))
    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text("utf-8"))
    core_floor = re.fullmatch(r">=2\.(\d+)(?:\.\d+)?", runtime["requires_ansible"])
    assert core_floor, runtime["requires_ansible"]
    assert int(core_floor.group(1)) == community_floor + 7


def test_the_tested_core_satisfies_the_floor() -> None:
    from ansible.release import __version__ as core

    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text("utf-8"))
    floor = tuple(int(x) for x in runtime["requires_ansible"].removeprefix(">=").split(".")[:2])
    assert tuple(int(x) for x in core.split(".")[:2]) >= floor


def test_licence_file_is_apache_2() -> None:
    text = (REPO / "LICENSE").read_text("utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert (REPO / "diffy_analysis/py.typed").exists()


def test_version_option_on_both_commands() -> None:
    runner = CliRunner()
    out = runner.invoke(diffy, ["--version"])
    assert out.exit_code == 0 and __version__ in out.output
    out = runner.invoke(load_command("analyze"), ["--version"], prog_name="diffy-analyze")
    assert out.exit_code == 0
    assert out.output.strip() == f"diffy-analyze, version {__version__}"


def test_machine_output_option_is_one_style_with_a_json_alias() -> None:
    import click

    from diffy_analysis.cli.machine_output import machine_format_option

    @click.command()
    @machine_format_option("a summary")
    @click.option("--name", default="x")
    def show(as_json: bool, name: str) -> None:
        click.echo(f"{as_json} {name}")

    runner = CliRunner()
    assert runner.invoke(show, []).output == "False x\n"
    assert runner.invoke(show, ["--format", "json", "--name", "y"]).output == "True y\n"
    assert runner.invoke(show, ["--json"]).output == "True x\n"
    assert runner.invoke(show, ["--format", "yaml"]).exit_code == 2
    assert "--json" not in runner.invoke(show, ["--help"]).output, "the alias is hidden"


def test_every_result_printing_command_offers_format_json() -> None:
    """`--json` on some commands and `--format` on others was the old state (issue 16)."""
    from diffy_analysis.cli.main import SUBCOMMANDS

    for name in SUBCOMMANDS:
        command = load_command(name)
        commands = (
            list(command.commands.values()) if isinstance(command, __import__("click").Group) else [command]
        )
        for cmd in commands:
            options = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
            if "--json" in options:
                assert "--format" in options, f"{name} {cmd.name}: --json without --format"
