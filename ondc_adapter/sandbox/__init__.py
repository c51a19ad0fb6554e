"""A local ONDC network for testers: registry, gateway, buyer app, scenario runner, launcher.

Everything here is test infrastructure that speaks the real protocol (signed requests, real
/subscribe checks, X25519 challenges) so that the adapter can be exercised end to end on one
machine. Nothing in the production request path imports this package.
"""

from pathlib import Path

# The shipped scenario files (``sandbox run`` flows): defined here, not in ``scenario.py``, so the
# command line can show the default without importing the scenario machinery.
# ``data/flows`` is a link to the repository's ``sandbox/flows``: one copy of the files, read in
# place from a checkout and copied into the package by a wheel build.
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "data" / "flows"
