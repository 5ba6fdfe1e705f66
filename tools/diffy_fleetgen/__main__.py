"""``python -m diffy_fleetgen``: generate a synthetic fleet (see ``--help``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from diffy_analysis.errors import DiffyError
from diffy_fleetgen.artifacts import ARTIFACTS, DEFAULT_KINDS
from diffy_fleetgen.generate import generate_fleet
from diffy_fleetgen.plan import FleetOptions


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--hosts",
    "-n",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Number of analysable hosts.",
)
@click.option(
    "--seed", "-s", type=int, default=1, show_default=True, help="Random seed: same seed, same bytes."
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write into: <run_id>/ (the run), <run_id>.truth.json, baselines/.",
)
@click.option(
    "--inject",
    "inject",
    multiple=True,
    type=click.Choice(sorted(ARTIFACTS)),
    help="Artifact kinds to inject (repeatable; default: the original eleven kinds, not the later five).",
)
@click.option(
    "--compromised",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Fraction of hosts with attacker artifacts (at least one host when > 0).",
)
@click.option(
    "--rollout",
    type=click.FloatRange(0, 1),
    default=0.4,
    show_default=True,
    help="Fraction of hosts already on the new app version (benign sub-population).",
)
@click.option(
    "--large",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Fraction of hosts of the larger instance type (benign sub-population).",
)
@click.option(
    "--canary",
    type=click.FloatRange(0, 1),
    default=0.15,
    show_default=True,
    help="Fraction of hosts with the canary sidecar (benign; none below 20 hosts).",
)
@click.option(
    "--unreachable",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Extra hosts listed in the manifest as unreachable.",
)
@click.option(
    "--patched",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of hosts that applied a sudo/openssl security update (benign; sudo's hash differs).",
)
@click.option(
    "--workers", "-j", type=click.IntRange(min=1), default=2, show_default=True, help="Writer processes."
)
@click.option(
    "--pack",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Query pack to copy into the run (default: the repository's linux-dfir pack).",
)
@click.option("--reuse", is_flag=True, help="Keep an existing complete fleet for the same options.")
def main(
    *,
    hosts: int,
    seed: int,
    out: Path,
    inject: tuple[str, ...],
    compromised: float,
    rollout: float,
    large: float,
    canary: float,
    unreachable: int,
    patched: float,
    workers: int,
    pack: Path | None,
    reuse: bool,
) -> None:
    """Generate a synthetic, noisy app fleet with injected attacker artifacts.

    Writes a results directory in the diffy-results/1 format (manifest with hashes, pack.json, one
    directory per host with all 20 queries of the default pack), a clean baseline host under
    baselines/, and the ground truth (<run_id>.truth.json) outside the run directory.
    """
    options = FleetOptions(
        hosts=hosts,
        seed=seed,
        inject=tuple(inject) or DEFAULT_KINDS,
        compromised_fraction=compromised,
        rollout_fraction=rollout,
        large_fraction=large,
        canary_fraction=canary,
        unreachable=unreachable,
        patched_fraction=patched,
    )
    started = time.perf_counter()
    try:
        fleet = generate_fleet(out, options, workers=workers, pack=pack, reuse=reuse)
    except (DiffyError, OSError) as err:
        trouble = click.ClickException(str(err))
        trouble.exit_code = 2  # diff(1) convention, as the diffy commands
        raise trouble from err
    truth = fleet.truth()
    click.echo(f"run:      {fleet.run_dir}")
    click.echo(f"baseline: {fleet.baseline_dir}")
    click.echo(f"truth:    {fleet.truth_path}")
    click.echo(
        f"{len(truth.hosts)} hosts, {len(truth.compromised)} compromised "
        f"({sum(len(a) for a in truth.compromised.values())} artifacts), "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
