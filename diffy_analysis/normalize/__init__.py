"""Normalization: per-table rules (keys, volatile columns), identity masking, the config file,
and the fleet index that interns every normalized row to an integer while hosts stream in."""

from __future__ import annotations

from diffy_analysis.normalize.build import Fleet, build_fleet
from diffy_analysis.normalize.index import FleetIndex, HostEntry, row_fingerprint
from diffy_analysis.normalize.mask import IdentityMasker
from diffy_analysis.normalize.rules import Config, TableRule, Thresholds, default_config, load_config

__all__ = [
    "Config",
    "Fleet",
    "FleetIndex",
    "HostEntry",
    "IdentityMasker",
    "TableRule",
    "Thresholds",
    "build_fleet",
    "default_config",
    "load_config",
    "row_fingerprint",
]
