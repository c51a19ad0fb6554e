"""Scenario definitions: data files in the top-level ``sandbox/`` folder, one per flow.

A scenario is a list of steps. Each step does one thing:

* ``send: <action>``      the buyer app sends a request built by ``build`` (a named builder
                          with parameters, see ``builders.py``), then applies ``set`` overrides;
                          an ``on_*`` the buyer app sends (``on_issue``, IGM flow 2) with
                          ``reply_to: <step id>`` answers the request received at that step
                          (its message_id), without it it is unsolicited (a new message_id);
* ``await: <on_action>``  wait for a callback: ``reply_to: <step id>`` for the answer to a
                          request, or ``unsolicited: true`` for a seller push, optionally
                          filtered by ``where`` (path/equals pairs); with ``absent: true``
                          the step passes only if NO such callback comes within ``timeout``;
                          ``await: issue`` waits alike for the request a seller sends to the
                          buyer app (IGM flow 2: its complaint; ``unsolicited: true``);
* ``seller: <action>``    make the seller do something (advance a fulfillment, cancel,
                          part-cancel; change an item's price, stock or availability) through
                          the adapter's seller-side functions. The step records what it did
                          (e.g. ``item``, ``value``) for later ``${step:item}`` references.

``checks`` lists what to verify for that step (see ``checks.py``); a set of protocol checks
(signature, ACK, pairing, transaction_id, timestamps, schema) always runs on every callback.
``export`` names the key the message gets in the log-validation-utility payload.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ondc_adapter.sandbox import SCENARIO_DIR


class Where(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    equals: Any


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    title: str | None = None
    send: str | None = None
    build: str | dict[str, Any] | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    await_: str | None = Field(default=None, alias="await")
    reply_to: str | None = None
    unsolicited: bool = False
    where: list[Where] = Field(default_factory=list)
    seller: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    checks: list[str | dict[str, Any]] = Field(default_factory=list)
    export: str | None = None
    timeout: float = 5.0
    optional: bool = False  # a missing callback is reported but does not fail the flow
    absent: bool = False  # await steps: pass only if no matching callback within ``timeout``

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        kinds = [k for k in (self.send, self.await_, self.seller) if k]
        if len(kinds) != 1:
            raise ValueError("a step needs exactly one of send, await, seller")
        if self.absent and not self.await_:
            raise ValueError("absent: true belongs to an await step")
        if self.absent and self.reply_to:
            raise ValueError("absent: true waits for a push, not for a reply_to answer")
        if self.id is None:
            self.id = self.send or self.await_ or self.seller
        return self

    @property
    def kind(self) -> str:
        return "send" if self.send else "await" if self.await_ else "seller"

    @property
    def action(self) -> str:
        return str(self.send or self.await_ or self.seller)

    def builder(self) -> tuple[str, dict[str, Any]]:
        if self.build is None:
            return str(self.send), {}
        if isinstance(self.build, str):
            return self.build, {}
        params = dict(self.build)
        name = params.pop("builder", None) or self.send
        return str(name), params


class ValidatorFlow(BaseModel):
    """What ONDC's log validator calls the flow, when that is not the retail 1.2.0 flow of the
    same id: IGM 2.0.0 flows are ``FLOW_1``... under version ``2.0.0``."""

    model_config = ConfigDict(extra="forbid")

    version: str
    flow: str


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow: str
    name: str
    description: str = ""
    domains: list[str] = Field(default_factory=list)
    # seller-side capabilities the flow needs ("select", "cancel", "seller.advance"...); the
    # runner reports a flow as unsupported when the adapter lacks one.
    requires: list[str] = Field(default_factory=list)
    # the retail version the flow speaks: every request's context.core_version, the answers'
    # expected one, and the bundle's version. 1.2.0 flows live in the scenario folder itself,
    # the others in a sub-folder named for their version (``1.2.5/``).
    core_version: str = "1.2.0"
    # the bundle's version and flow, when not the retail ones (IGM 2.0.0: FLOW_1...)
    validator: ValidatorFlow | None = None
    steps: list[Step]

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r}: give repeated steps an id")
            seen.add(str(step.id))
        for step in self.steps:
            if step.reply_to and step.reply_to not in seen:
                raise ValueError(f"step {step.id!r}: reply_to {step.reply_to!r} is not a step")
        return self


def load_scenario(path: Path) -> Scenario:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return Scenario.model_validate(data)


DEFAULT_VERSION = "1.2.0"

# The flows ONDC's log validator defines, by version (retail 1.2.0; IGM 2.0.0, whose FLOW_3 has
# no scenario yet): a bundle naming any other flow id would be "verified" without a
# single check (certification.md), so none is written. An IGM bundle naming another flow would
# even pass with its ref and actor checks off (lvu/igm_rules.py).
VALIDATOR_FLOWS = {
    "1.2.0": frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9"}),
    # issue 16's list, flows 0091-0098 being the offers (discount, buy X get Y, freebie, slab,
    # combo, delivery, exchange, financing)
    "1.2.5": frozenset(
        {"1", "2", "012", "3", "4", "5", "6", "7", "8", "9", *(f"009{n}" for n in range(1, 9))}
    ),
    "2.0.0": frozenset({"FLOW_1", "FLOW_2", "FLOW_3"}),
}


def version_dir(directory: Path, core_version: str = DEFAULT_VERSION) -> Path:
    """Where the flows of ``core_version`` are: 1.2.0's in ``directory``, the others in its
    sub-folder of that name."""
    return directory if core_version == DEFAULT_VERSION else directory / core_version


def scenario_files(
    directory: Path = SCENARIO_DIR, core_version: str = DEFAULT_VERSION
) -> dict[str, Path]:
    """flow id -> file, from every *.yaml / *.yml / *.json of ``core_version``'s folder."""
    out: dict[str, Path] = {}
    for path in sorted(version_dir(directory, core_version).glob("*")):
        if path.suffix in (".yaml", ".yml", ".json"):
            out[load_scenario(path).flow] = path
    return out


# Certification flows of ONDC's log-validation utility that have no scenario file, and why.
# ``sandbox flows`` lists them, ``sandbox run`` says why. Every retail 1.2.0 flow (1-9) ships;
# of IGM 2.0.0, flow 1 (igm-1, a buyer's complaint) and flow 2 (igm-2, the seller's complaint
# escalated to the buyer app's GRO) do.
NOT_SHIPPED: dict[str, str] = {
    "igm-3": "IGM flow 3 (FLOW_3: a complaint cascaded to the logistics provider) comes once the "
             "node buys delivery from ONDC logistics; today the seller delivers itself",
}


def find_scenario(
    flow: str, directory: Path = SCENARIO_DIR, core_version: str = DEFAULT_VERSION
) -> Scenario:
    """The scenario of ``flow`` in ``core_version`` (or the file ``flow`` names); a
    ``KeyError`` saying why when there is none."""
    candidate = Path(flow)
    if candidate.suffix in (".yaml", ".yml", ".json") and candidate.exists():
        return load_scenario(candidate)
    folder = version_dir(directory, core_version)
    # Shipped files are named "<flow>-<what>.yaml": try those first (each file costs a YAML
    # parse and a validation), then every file, since the id inside is what counts.
    for path in sorted(folder.glob(f"{flow}-*")) + sorted(folder.glob(f"{flow}.*")):
        if path.suffix in (".yaml", ".yml", ".json"):
            scenario = load_scenario(path)
            if scenario.flow == flow:
                return _of_version(scenario, path, core_version)
    files = scenario_files(directory, core_version) if folder.is_dir() else {}
    if flow not in files:
        if core_version == DEFAULT_VERSION and flow in NOT_SHIPPED:
            raise KeyError(f"flow {flow} is not supported: {NOT_SHIPPED[flow]}")
        have = ", ".join(sorted(files)) or "none"
        raise KeyError(
            f"no scenario for flow {flow!r} of retail {core_version} in {folder} (have {have})"
        )
    return _of_version(load_scenario(files[flow]), files[flow], core_version)


def _of_version(scenario: Scenario, path: Path, core_version: str) -> Scenario:
    if scenario.core_version != core_version:  # a file put in the wrong folder
        raise KeyError(
            f"{path} speaks retail {scenario.core_version}, not {core_version}: move it to "
            f"{version_dir(path.parent, scenario.core_version)}"
        )
    return scenario
