"""Effective normalization rules and analysis thresholds: defaults, overridden by a config file.

The config file format is documented in docs/configuration.md. Either TOML or YAML::

    [thresholds]
    rare_fraction = 0.05

    [queries.listening_ports]
    keys = ["protocol", "address", "port", "name", "path"]
    also_ignore = ["cmdline"]
    mask = true
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from diffy_analysis.errors import ConfigError
from diffy_analysis.normalize.defaults import DEFAULT_RULES, DEFAULT_SIGNIFICANCE
from diffy_analysis.normalize.transforms import TRANSFORMS

MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TableRule:
    """How one query's rows are compared."""

    query: str
    keys: tuple[str, ...] = ()
    """Columns that identify a row; empty means "every significant column" (no 'changed' pairing)."""
    ignore: tuple[str, ...] = ()
    """Volatile columns, dropped before comparing."""
    mask: bool = True
    """Replace the host's own hostname/instance id/addresses inside values with placeholders."""
    significance: float = DEFAULT_SIGNIFICANCE
    transforms: tuple[str, ...] = ()
    """Value transforms applied to each row first (normalize/transforms.py)."""
    auto_volatile: bool = False
    """Detect volatile columns from the data (on for queries without defaults or configured rules)."""
    source: str = "default"
    """Where the rule came from: default | automatic | config."""


@dataclass(frozen=True)
class Thresholds:
    """Every number the analysis decides with. Shown in --explain-config and in the output settings."""

    rare_fraction: float = 0.05
    """A row on at most this fraction of a host's peers (and ``rare_max_hosts``) is rare: a finding."""
    rare_max_hosts: int = 3
    """...or on at most this many peers, whichever is larger (small fleets)."""
    common_fraction: float = 0.9
    """A row on at least this fraction of peers that a host lacks is a 'missing' finding."""
    weak_unique_fraction: float = 0.5
    """A rare row is weak evidence when, among the hosts sharing its template (row with one column
    blanked), at least this fraction of distinct values exist per host (a random port, a per-host name)."""
    weak_template_fraction: float = 0.2
    """...and the template is on at least this fraction of hosts."""
    volatile_unique_fraction: float = 0.9
    """Automatic volatile column: values unique to at least this fraction of hosts sharing the rest."""
    volatile_common_fraction: float = 0.5
    """...while the rest of the row is on at least this fraction of hosts."""
    weak_weight: float = 0.1
    """Multiplier of a weak finding's weight."""
    population_fraction: float = 0.1
    """A cluster holding at least this fraction of hosts (and ``population_min_hosts``) is a legitimate
    population; smaller clusters are compared with the nearest population."""
    population_min_hosts: int = 3
    baseline_population_fraction: float = 0.1
    """Baseline method: a difference shared by at least this fraction of hosts is a population
    difference (reported once, not held against the hosts)."""
    min_cut_distance: float = 0.05
    """Never cut the dendrogram below this distance (hosts closer than this are one population)."""
    max_profiles: int = 3000
    """At most this many distinct host profiles are clustered; see docs/analysis.md for the fallback."""
    outlier_min_score: float = 0.5
    """Unused since verdicts come from the entry model (analyze/verdict.py); kept so configs load."""
    outlier_mad_factor: float = 6.0
    """Unused: the MAD gate is gone (analyze/verdict.py); kept so existing config files load."""
    max_findings: int = 50
    """Findings kept per host (the highest weights)."""
    max_file_mb: int = 64
    """Size cap per result file (MiB); larger files make their host skipped."""


@dataclass(frozen=True)
class Config:
    rules: dict[str, TableRule] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    mask: bool = True
    source: str | None = None

    def rule(self, query: str) -> TableRule:
        """The effective rule of ``query`` (a rule with automatic volatile detection if unknown)."""
        found = self.rules.get(query)
        if found is not None:
            return found if self.mask else replace(found, mask=False)
        return TableRule(query=query, mask=self.mask, auto_volatile=True, source="automatic")

    def explain(self, queries: list[str] | None = None) -> str:
        """The effective rules and thresholds as JSON text (for ``--explain-config``)."""
        names = sorted(set(self.rules) | set(queries or ()))
        doc = {
            "config_file": self.source,
            "mask_identity": self.mask,
            "thresholds": asdict(self.thresholds),
            "queries": {
                name: {
                    "source": self.rule(name).source,
                    "keys": list(self.rule(name).keys) or "(all significant columns)",
                    "ignore": list(self.rule(name).ignore),
                    "mask": self.rule(name).mask,
                    "significance": self.rule(name).significance,
                    "transforms": list(self.rule(name).transforms),
                    "auto_volatile": self.rule(name).auto_volatile,
                }
                for name in names
            },
        }
        return json.dumps(doc, indent=2)


def default_config() -> Config:
    rules = {
        name: TableRule(
            query=name,
            keys=tuple(spec.get("keys", ())),
            ignore=tuple(spec.get("ignore", ())),
            significance=float(spec.get("significance", DEFAULT_SIGNIFICANCE)),
            transforms=tuple(spec.get("transforms", ())),
        )
        for name, spec in DEFAULT_RULES.items()
    }
    return Config(rules=rules)


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of column names")
    return tuple(value)


_RULE_FIELDS = {"keys", "ignore", "also_ignore", "mask", "significance", "auto_volatile", "transforms"}


def _apply_query(base: TableRule, spec: Any, where: str) -> TableRule:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table/mapping")
    unknown = set(spec) - _RULE_FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(_RULE_FIELDS)}")
    rule = replace(base, source="config")
    if "keys" in spec:
        rule = replace(rule, keys=_str_list(spec["keys"], f"{where}.keys"))
    if "ignore" in spec:
        rule = replace(rule, ignore=_str_list(spec["ignore"], f"{where}.ignore"), auto_volatile=False)
    if "also_ignore" in spec:
        extra = _str_list(spec["also_ignore"], f"{where}.also_ignore")
        rule = replace(rule, ignore=tuple(dict.fromkeys(rule.ignore + extra)))
    for flag in ("mask", "auto_volatile"):
        if flag in spec:
            if not isinstance(spec[flag], bool):
                raise ConfigError(f"{where}.{flag} must be true or false")
            rule = replace(rule, **{flag: spec[flag]})
    if "transforms" in spec:
        names = _str_list(spec["transforms"], f"{where}.transforms")
        unknown_t = sorted(set(names) - set(TRANSFORMS))
        if unknown_t:
            raise ConfigError(f"{where}.transforms: unknown {unknown_t}; known: {sorted(TRANSFORMS)}")
        rule = replace(rule, transforms=names)
    if "significance" in spec:
        value = spec["significance"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(f"{where}.significance must be a number between 0 and 1")
        rule = replace(rule, significance=float(value))
    return rule


def _apply_thresholds(base: Thresholds, spec: Any) -> Thresholds:
    if not isinstance(spec, dict):
        raise ConfigError("thresholds must be a table/mapping")
    known = {f.name: f for f in fields(Thresholds)}
    changes: dict[str, Any] = {}
    for name, value in spec.items():
        if name not in known:
            raise ConfigError(f"thresholds: unknown setting {name!r}; known: {sorted(known)}")
        default = getattr(base, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"thresholds.{name} must be a number")
        if isinstance(default, int) and not isinstance(default, bool):
            if value != int(value) or value < 0:
                raise ConfigError(f"thresholds.{name} must be a non-negative whole number")
            changes[name] = int(value)
            continue
        if not 0 <= value <= 1 and name.endswith("fraction"):
            raise ConfigError(f"thresholds.{name} must be between 0 and 1")
        if value < 0:
            raise ConfigError(f"thresholds.{name} must not be negative")
        changes[name] = value
    return replace(base, **changes)


def parse_config_text(text: str, *, suffix: str, source: str) -> Config:
    """Build the effective Config from a config document (TOML for ``.toml``, else YAML)."""
    try:
        if suffix == ".toml":
            doc = tomllib.loads(text)
        else:
            import yaml  # noqa: PLC0415 - only needed for YAML configs

            doc = yaml.safe_load(text)
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{source}: cannot parse: {first}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: the top level must be a table/mapping")
    unknown = set(doc) - {"thresholds", "queries", "mask"}
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {sorted(unknown)}; known: mask, queries, thresholds")
    config = default_config()
    thresholds = _apply_thresholds(config.thresholds, doc.get("thresholds") or {})
    mask = doc.get("mask", True)
    if not isinstance(mask, bool):
        raise ConfigError(f"{source}: mask must be true or false")
    rules = dict(config.rules)
    queries = doc.get("queries") or {}
    if not isinstance(queries, dict):
        raise ConfigError(f"{source}: queries must be a table/mapping of query names")
    for name, spec in queries.items():
        base = rules.get(name) or TableRule(query=str(name), auto_volatile=True)
        rules[str(name)] = _apply_query(base, spec, f"queries.{name}")
    return Config(rules=rules, thresholds=thresholds, mask=mask, source=source)


def load_config(path: Path | str | None) -> Config:
    """The effective config: defaults, overridden by the file at ``path`` when given."""
    if path is None:
        return default_config()
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file: {err.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8") from None
    return parse_config_text(text, suffix=path.suffix.lower(), source=str(path))
