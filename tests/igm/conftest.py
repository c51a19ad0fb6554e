"""IGM tests reuse the order kit (a seeded catalogue and a buyer app that places orders)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))
