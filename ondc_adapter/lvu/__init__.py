"""ONDC's log-validation utility, retail 1.2.0 and IGM 2.0.0 (retail 1.2.5 being ported: ``*_125``
modules, ``flows_125``), ported to Python: what the validator
will say of a bundle (``{domain, version, flow, bap_id, bpp_id, payload}``), on this machine,
offline. The bundle's ``version`` picks the rules: ``1.2.0`` retail, ``2.0.0`` IGM (issues and
grievances, ``igm_rules``; the validator's ``/api/validate/igm``).

Each rule is a small function over the bundle's payloads that yields ``Finding``s; every finding
names its rule and the file of ``ONDC-Official/log-validation-utility`` it comes from, so a
tester can read the original. The rules are grouped by the messages they read:
``context_rules`` (every payload), ``catalogue_rules`` (on_search), ``order_rules`` (select to
on_confirm), ``after_rules`` (on_status, cancel, on_cancel, catalog_rejection), ``cancel_rules``
(the out-of-stock on_select, on_cancel's schema and quote_trail, the on_status ending an RTO);
``igm_rules`` (with the IGM schemas in ``igm_schema``) for IGM bundles.

The port covers the rules that apply to a seller node's callbacks and to the buyer requests
the sandbox sends, as far as they are known (``../shared/reference/certification.md`` and the
validator's sources); a clean report here is strong evidence, not ONDC's verdict.

    findings = validate_bundle(json.loads(Path("bundle.json").read_text()))
"""

from __future__ import annotations

from typing import Any

from ondc_adapter.lvu import flows_125
from ondc_adapter.lvu.after_rules import AFTER_RULES
from ondc_adapter.lvu.after_rules_125 import AFTER_RULES_125
from ondc_adapter.lvu.cancel_rules import CANCEL_RULES
from ondc_adapter.lvu.catalogue_rules import CATALOGUE_RULES
from ondc_adapter.lvu.catalogue_rules_125 import CATALOGUE_RULES_125
from ondc_adapter.lvu.context_rules import CONTEXT_RULES
from ondc_adapter.lvu.findings import FLOW_KEYS, Bundle, Finding, Rule
from ondc_adapter.lvu.igm_rules import IGM_RULES
from ondc_adapter.lvu.order_rules import ORDER_RULES
from ondc_adapter.lvu.order_rules_125 import ORDER_RULES_125

RULES: tuple[Rule, ...] = (*CONTEXT_RULES, *CATALOGUE_RULES, *ORDER_RULES, *AFTER_RULES,
                          *CANCEL_RULES)
# Retail 1.2.5 (issue 16, being ported): the context rules are the validator's shared ones
RULES_125: tuple[Rule, ...] = (*CONTEXT_RULES, *CATALOGUE_RULES_125, *ORDER_RULES_125,
                               *AFTER_RULES_125)
IGM_VERSION = "2.0.0"


def kind_of(version: str) -> str:
    """What a bundle of ``version`` is, for reports: "retail 1.2.0", "IGM 2.0.0"."""
    return f"IGM {version}" if version == IGM_VERSION else f"retail {version}"


def _run(rules: tuple[Rule, ...], bundle: Bundle) -> list[Finding]:
    findings: list[Finding] = []
    for rule in rules:
        try:
            findings.extend(rule(bundle))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            findings.append(Finding(getattr(rule, "__name__", "rule"), "(port)", "", "",
                                    f"payload too malformed for this rule: {exc!r}"[:300]))
    return findings


def validate_bundle(data: dict[str, Any]) -> list[Finding]:
    """Every finding the ported rules make of ``data`` (an empty list: nothing to say)."""
    bundle = Bundle.of(data)
    findings: list[Finding] = []
    if bundle.version == IGM_VERSION:
        return _run(IGM_RULES, bundle)
    if bundle.version == "1.2.5":
        return _validate_125(bundle)
    if bundle.version != "1.2.0":
        return [Finding("bundle.version", "shared/validateLogs.ts", "", "version",
                        f"only retail 1.2.0 and 1.2.5 and IGM 2.0.0 are ported (bundle says "
                        f"{bundle.version!r})")]
    keys = FLOW_KEYS.get(bundle.flow)
    if keys is None:
        return [Finding("bundle.flow", "shared/validateLogs.ts", "", "flow",
                        f"flow {bundle.flow!r} is not a retail 1.2.0 flow of the validator: "
                        "it would pass unchecked")]
    for key in keys:
        if key not in bundle.payload:
            findings.append(Finding("bundle.missing_key", "shared/validateLogs.ts", key, "",
                                    f"Missing required data of : {key}"))
    return findings + _run(RULES, bundle)


def _validate_125(bundle: Bundle) -> list[Finding]:
    if bundle.flow in flows_125.NOT_PORTED:
        return [Finding("bundle.flow", flows_125.SOURCE, "", "flow",
                        f"flow {bundle.flow!r} of retail 1.2.5 is not ported yet")]
    if bundle.flow not in flows_125.FLOW_KEYS_125:
        return [Finding("bundle.flow", flows_125.SOURCE, "", "flow",
                        f"flow {bundle.flow!r} is not a retail 1.2.5 flow of the validator: "
                        "it would pass unchecked")]
    return [*flows_125.missing_keys(bundle), *_run(RULES_125, bundle)]


__all__ = ["IGM_RULES", "RULES", "Bundle", "Finding", "kind_of", "validate_bundle"]
