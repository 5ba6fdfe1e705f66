"""Analysis methods over the fleet index: functional baseline (baseline.py), peers (peers.py,
clustering.py), scoring, evidence and plain-English explanations (explain.py).
The whole pipeline is in pipeline.py (``diffy_analysis.api.analyze`` calls it)."""
