"""`diffy baseline`: save, list and show named functional baselines per app."""

from __future__ import annotations

import json
from pathlib import Path

import click

from diffy_analysis import baselines
from diffy_analysis.cli.machine_output import machine_format_option
from diffy_analysis.collect.options import default_results_root
from diffy_analysis.errors import UsageError

_results_root = click.option(
    "--results-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_results_root,
    show_default="$DIFFY_RESULTS_ROOT or ./diffy-results",
    help="Results root; baselines live in <results-root>/baselines/<app>/<name>/.",
)


@click.group()
def baseline() -> None:
    """Named functional baselines: the state of a freshly launched, clean instance of an app.

    Analyse a fleet against one with `diffy-analyze RUN_DIR --baseline APP/NAME`.
    """


@baseline.command()
@click.argument("app")
@click.argument("name")
@click.option(
    "--from-run",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Promote hosts of this run directory (verified against its manifest first).",
)
@click.option("--host", "hosts", multiple=True, help="With --from-run: only this host (repeatable).")
@click.option("-l", "--limit", help="Collect the baseline now from these hosts with playbooks/baseline.yml.")
@click.option(
    "-i", "--inventory", multiple=True, type=click.Path(exists=True, path_type=Path), help="With --limit."
)
@click.option(
    "--collector", type=click.Choice(["auto", "osquery", "native"]), default="auto", show_default=True
)
@click.option("--force", is_flag=True, help="Replace an existing baseline of that name.")
@_results_root
def save(*, app, name, from_run, hosts, limit, inventory, collector, force, results_root) -> None:
    """Save baseline NAME for APP, from an existing run (--from-run) or by collecting it now (--limit)."""
    if bool(from_run) == bool(limit):
        raise UsageError("give exactly one of --from-run RUN_DIR or --limit HOSTS")
    if from_run:
        saved = baselines.save_from_run(
            from_run, results_root, app, name, hosts=list(hosts) or None, force=force
        )
    else:
        from diffy_analysis.collect.baseline import collect_baseline  # noqa: PLC0415

        saved = collect_baseline(
            app,
            name,
            limit=limit,
            inventory=inventory,
            collector=collector,
            results_root=results_root,
            force=force,
        )
    click.echo(f"Saved baseline {saved.app}/{saved.name}: {len(saved.hosts)} host(s) -> {saved.path}")


@baseline.command(name="list")
@click.option("--app", help="Only this app's baselines.")
@machine_format_option("the baselines")
@_results_root
def list_(*, app, as_json, results_root) -> None:
    """List saved baselines."""
    found = baselines.list_baselines(results_root, app)
    if as_json:
        click.echo(json.dumps([b.to_json() for b in found], indent=2))
        return
    if not found:
        click.echo(f"No baselines under {baselines.baselines_root(results_root)}.")
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(box=None, header_style="bold")
    for col in ("app/name", "hosts", "collected at", "pack", "run"):
        table.add_column(col)
    for b in found:
        table.add_row(f"{b.app}/{b.name}", str(len(b.hosts)), b.collected_at or "-", b.pack or "-", b.run_id)
    Console().print(table)


@baseline.command()
@click.argument("app")
@click.argument("name")
@machine_format_option("the baseline")
@_results_root
def show(*, app, name, as_json, results_root) -> None:
    """Show one baseline: where it is, its hosts, when and how it was collected."""
    b = baselines.get_baseline(results_root, app, name)
    if as_json:
        click.echo(json.dumps(b.to_json(), indent=2))
        return
    click.echo(f"Baseline {b.app}/{b.name}")
    click.echo(f"  path:         {b.path}")
    click.echo(f"  run:          {b.run_id} (collected {b.collected_at or 'unknown'})")
    click.echo(f"  pack:         {b.pack or 'unknown'}")
    click.echo(f"  saved:        {b.saved_at or 'unknown'} from {b.source or 'unknown'}")
    from diffy_analysis.report._escape import safe_text  # noqa: PLC0415 - host names may be hostile

    click.echo(f"  hosts ({len(b.hosts)}):  {', '.join(safe_text(h, 120) for h in b.hosts)}")
