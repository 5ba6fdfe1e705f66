"""`diffy validate --run`'s lab driver: run selected atomics on overlay-isolated lab hosts
(execute.py), collect and analyse them (runner.py). What belongs to the product - reading the
atomics, the coverage model and its report - stays in diffy_analysis/validate/."""
