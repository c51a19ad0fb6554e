"""A local ONDC network for testers: registry, gateway, buyer app, scenario runner, launcher.

Everything here is test infrastructure that speaks the real protocol (signed requests, real
/subscribe checks, X25519 challenges) so that the adapter can be exercised end to end on one
machine. Nothing in the production request path imports this package.
"""
