"""Acceptance testing against an attack platform (Atomic Red Team): which procedures to run, and why
the others are left out (atomics.py)."""
