"""Detection quality by method at 20, 200 and 2,000 hosts (issue 4): see diffy_fleetgen.evaluate.

python benchmarks/evaluate.py [--sizes 20,200,2000] [--seed 7] [--details]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))  # diffy_fleetgen

from diffy_fleetgen.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
