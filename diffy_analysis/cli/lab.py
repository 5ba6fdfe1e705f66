"""`diffy lab`: a local lab fleet of namespaced hosts behind a moto EC2 API (needs root)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from diffy_analysis.cli.machine_output import machine_format_option
from diffy_analysis.errors import UsageError
from diffy_analysis.extras import require_devtools

# Dev tooling: tools/diffy_lab in a checkout (a separate distribution), never in the wheel.
require_devtools("diffy_lab", "the lab fleet (`diffy lab`)")
from diffy_lab import INJECTIONS, Lab, LabConfig  # noqa: E402
from diffy_lab.spec import parse_apps  # noqa: E402

_ARTIFACT_HELP = "; ".join(f"{k}: {v}" for k, v in INJECTIONS.items())


def _lab_options(func):
    func = click.option(
        "--lab-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory holding the lab's state, keys and per-host files [default: /run/diffy-lab/NAME].",
    )(func)
    return click.option(
        "--name", default="diffy", show_default=True, help="Lab name (prefix of its network namespaces)."
    )(func)


def _load(name: str, lab_dir: Path | None) -> Lab:
    return Lab.load(lab_dir, name=name)


def _parse_compromise(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value in values:
        host, _, arts = value.partition("=")
        artifacts = [a for a in arts.split(",") if a] or list(INJECTIONS)
        unknown = [a for a in artifacts if a not in INJECTIONS]
        if unknown:
            raise UsageError(f"unknown artifact(s) {', '.join(unknown)}; known: {', '.join(INJECTIONS)}")
        out[host] = artifacts
    return out


@click.group()
def lab() -> None:
    """A local lab fleet: real hosts in network namespaces, reached over SSH through the real
    amazon.aws.aws_ec2 inventory plugin pointed at a moto EC2 server. Needs root.

    Each host has its own network, PID, mount and UTS namespaces, hostname, sshd and private
    /etc, /root, /home and /tmp. The lab network has no route off this machine; run controller
    commands inside it with `diffy lab exec -- COMMAND`.
    """


@lab.command()
@_lab_options
@click.option(
    "--apps",
    default="app_x=6,app_y=2",
    show_default=True,
    help="Hosts per app, NAME=COUNT separated by commas (tag `app` on each instance).",
)
@click.option("--subnet", default="10.213.0.0/24", show_default=True, help="Private IPv4 subnet of the lab.")
@click.option(
    "--compromise",
    multiple=True,
    metavar="HOST[=ARTIFACT,...]",
    help=f"Inject attacker artifacts into HOST after start (all when none named). {_ARTIFACT_HELP}.",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the hosts' sshd.")
@machine_format_option("the lab status")
def up(*, name, lab_dir, apps, subnet, compromise, timeout, as_json) -> None:
    """Bring the lab up (removing first whatever an earlier lab of this name left behind)."""
    try:
        app_list = parse_apps(apps)
    except ValueError as err:
        raise UsageError(str(err)) from err
    config = LabConfig(
        name=name, lab_dir=lab_dir, apps=app_list, subnet=subnet, compromise=_parse_compromise(compromise)
    )
    started = time.monotonic()
    the_lab = Lab(config).up(timeout=timeout)
    if as_json:
        click.echo(json.dumps(the_lab.status(), indent=2))
        return
    _print_status(the_lab.status())
    click.echo(f"\nLab up in {time.monotonic() - started:.1f}s. Try:")
    click.echo(f"  diffy lab exec --name {name} -- ansible-inventory -i {the_lab.inventory} --graph")
    click.echo(f"  diffy lab exec --name {name} -- diffy collect -i {the_lab.inventory} -l app_x")


@lab.command()
def check() -> None:
    """Say whether the lab can run on this machine (root, ip, unshare, nsenter, sshd); exit 2 if not."""
    from diffy_lab.system import require_root, require_tools  # noqa: PLC0415

    require_root()
    require_tools()
    click.echo("The lab can run here.")


@lab.command()
@_lab_options
def down(name, lab_dir) -> None:
    """Stop every lab process and remove its namespaces, links and files."""
    config = LabConfig(name=name, lab_dir=lab_dir)
    removed = Lab(config).down()
    click.echo("Removed: " + ", ".join(removed) if removed else "Nothing to remove.")


@lab.command()
@_lab_options
@machine_format_option("the lab status")
def status(name, lab_dir, as_json) -> None:
    """Show the lab's hosts, their instance ids, addresses and injected artifacts."""
    doc = _load(name, lab_dir).status()
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_status(doc)


@lab.command()
@_lab_options
@click.argument("host")
@click.argument("artifacts", nargs=-1, type=click.Choice(list(INJECTIONS)))
def inject(name, lab_dir, host, artifacts) -> None:
    """Plant real attacker ARTIFACTS (all when none named) on a running HOST (name or instance id)."""
    the_lab = _load(name, lab_dir)
    done = the_lab.inject(host, list(artifacts) or list(INJECTIONS))
    click.echo(f"{done.name} ({done.instance_id}): {', '.join(done.artifacts)}")


@lab.command()
@_lab_options
@click.argument("host")
def stop(name, lab_dir, host) -> None:
    """Stop HOST like a crashed instance (its EC2 instance stays "running", SSH fails)."""
    done = _load(name, lab_dir).stop_host(host)
    click.echo(f"stopped {done.name} ({done.instance_id})")


@lab.command()
@_lab_options
@click.argument("host")
def start(name, lab_dir, host) -> None:
    """Start a stopped HOST again."""
    done = _load(name, lab_dir).start_host(host)
    click.echo(f"started {done.name} ({done.instance_id})")


@lab.command(context_settings={"ignore_unknown_options": True})
@_lab_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec(name, lab_dir, command) -> None:
    """Run COMMAND inside the lab's network namespace, with fake AWS credentials for moto (unless
    AWS credentials are already set) and $DIFFY_LAB_INVENTORY set to the lab inventory."""
    the_lab = _load(name, lab_dir)
    argv = the_lab.controller_argv(list(command))
    os.execvpe(argv[0], argv, the_lab.controller_env())


def _print_status(doc: dict) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"lab {doc['name']} ({doc['subnet']}, namespace {doc['lab_ns']})")
    for col in ("host", "app", "address", "instance id", "state", "injected"):
        table.add_column(col)
    for h in doc["hosts"]:
        state = "[green]running[/]" if h["running"] else "[red]stopped[/]"
        arts = ", ".join(h["artifacts"])
        table.add_row(h["name"], h["app"], h["address"], h["instance_id"] or "-", state, f"[red]{arts}[/]")
    console = Console()
    console.print(table)
    moto = "[green]running[/]" if doc["moto"]["running"] else "[red]down[/]"
    console.print(f"moto EC2: {doc['moto']['endpoint']} (inside the lab namespace) {moto}")
    console.print(f"inventory: {doc['inventory']}")
    route = "[red]YES (unexpected)[/]" if doc["route_off_lab"] else "none"
    console.print(f"route off the lab: {route}")
