"""Held-out evaluation fleets built from REAL lab hosts (see README.md). Dev tooling, not the package."""
