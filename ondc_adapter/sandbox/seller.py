"""The adapter's seller side as the sandbox drives it (its sample catalogue is
``sample_catalogue``'s): the seller actions scenario steps ask for, performed through the
adapter's own seller-side functions (the ones its admin API and CLI call): order actions
(advance a fulfillment, cancel, part-cancel, accept), catalogue actions (``set_price``,
``set_stock``, ``disable_item``, ``enable_item``, and ``set_store_status`` on the store of an
item), which also push incremental ``on_search`` to subscribed buyer apps, and actions on the
flow's complaint (``issue_ask_info``, ``issue_propose``, ``issue_resolve``..., through
``igm.service``), each sending its ``on_issue``, and on the complaint the seller raises itself
(``issue_raise``, ``issue_accept``, ``issue_escalate``, ``issue_close``..., through
``igm.complainant``), each sending its ``issue`` to the buyer app. What each step asks for is
worked out from the flow's state by ``seller_steps``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from ondc_adapter.protocol.durations import utcnow
from ondc_adapter.sandbox.builders import FlowState
from ondc_adapter.sandbox.runner import SellerActionFailed
from ondc_adapter.sandbox.seller_steps import (
    CATALOGUE_ACTIONS,
    COMPLAINT_ACTIONS,
    COMPLAINT_STEPS,
    ISSUE_ACTIONS,
    OFFER_ACTIONS,
    STORE_STATUSES,
    fulfillment_id_of_type,
    item_change,
    prepare_catalogue_action,
    prepare_complaint_action,
    prepare_issue_action,
    prepare_offer_action,
)

# How long a catalogue action waits for the adapter to have handled the flow's latest search
# (a catalog_inc start/stop reaches it through the gateway after the buyer app's ACK).
SETTLE_SECONDS = 5.0


class RemoteSeller:
    """``SellerControl`` for ``sandbox run --url``: asks the process running ``sandbox up`` to
    perform the action on its adapter (``POST <registry>/sandbox/seller/<action>``)."""

    def __init__(self, http: httpx.AsyncClient, registry_url: str, *, actions: list[str]
                 ) -> None:
        self.http = http
        self.base = registry_url.rstrip("/")
        self.actions = set(actions)  # what the other process's orders service offers

    def supports(self, capability: str) -> bool:
        return not capability.startswith("seller.") or (
            capability.removeprefix("seller.") in self.actions
        )

    async def perform(self, action: str, params: dict[str, Any], state: FlowState) -> str:
        url = f"{self.base}/sandbox/seller/{action}"
        if action in OFFER_ACTIONS:
            # the offer is made from this run's catalogue; the other process only stores it
            provider, offer_id, offer = prepare_offer_action(params, state)
            body: dict[str, Any] = {"provider": provider, "offer_id": offer_id, "offer": offer}
        elif action in CATALOGUE_ACTIONS:
            after = prepare_catalogue_action(action, params, state)
            body = {"params": params, "after_message_id": after}
        elif action in ISSUE_ACTIONS:
            issue_id, after = prepare_issue_action(action, params, state)
            body = {"issue_id": issue_id, "params": params, "after_message_id": after}
        elif action in COMPLAINT_ACTIONS:
            complaint, after_answer = prepare_complaint_action(action, params, state)
            body = {"issue_id": complaint, "params": params, "after_message_id": after_answer}
        else:
            if not state.order_id:
                raise SellerActionFailed(f"{action} needs a confirmed order")
            sent = dict(params)
            kind = sent.pop("fulfillment", None)
            if kind and "fulfillment_id" not in sent:
                sent["fulfillment_id"] = fulfillment_id_of_type(state, str(kind))
            body = {"order_id": state.order_id, "params": sent}
        try:
            response = await self.http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise SellerActionFailed(f"{url}: {exc}") from exc
        if response.status_code != 200:
            raise SellerActionFailed(f"{url} -> {response.status_code}: {response.text[:300]}")
        try:
            answer = response.json()
        except ValueError:
            raise SellerActionFailed(f"{url}: answer is not JSON") from None
        if (action in CATALOGUE_ACTIONS or action in COMPLAINT_ACTIONS) and isinstance(
                answer.get("params"), dict):
            params.update(answer["params"])  # what the other process set (price, issue id)
        return str(answer.get("done", action))


class ServiceSeller:
    """``SellerControl`` calling the orders service in-process (the sandbox's own adapter):
    the same functions the admin API and the orders CLI call, in one database transaction,
    then a wake-up of the callback dispatcher."""

    # seller action -> orders.service function name
    FUNCTIONS = {
        "advance": "advance",
        "cancel": "cancel",
        "part_cancel": "part_cancel",
        "accept": "accept",
    }

    def __init__(self, app: Any, *, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.app = app
        self.settle_seconds = settle_seconds

    def _service(self) -> Any:
        try:
            from ondc_adapter.orders import service
        except ModuleNotFoundError:
            return None
        return service

    def supports(self, capability: str) -> bool:
        if not capability.startswith("seller."):
            return True
        action = capability.removeprefix("seller.")
        if action in CATALOGUE_ACTIONS or action in ISSUE_ACTIONS or action in COMPLAINT_ACTIONS:
            return True
        if action in OFFER_ACTIONS:
            # tried through the admin API; a node without its offers route fails the step
            # with that reason rather than the flow being reported unsupported up front
            return True
        service = self._service()
        name = self.FUNCTIONS.get(action)
        return service is not None and name is not None and hasattr(service, name)

    def actions(self) -> list[str]:
        """Every seller action this adapter offers (``sandbox up`` publishes the list)."""
        return [a for a in [*self.FUNCTIONS, *CATALOGUE_ACTIONS, *OFFER_ACTIONS, *ISSUE_ACTIONS,
                            *COMPLAINT_ACTIONS] if self.supports(f"seller.{a}")]

    async def perform(self, action: str, params: dict[str, Any], state: FlowState) -> str:
        if action in CATALOGUE_ACTIONS:
            after = prepare_catalogue_action(action, params, state)
            return await self.catalogue_action(action, params, after_message_id=after)
        if action in OFFER_ACTIONS:
            provider, offer_id, body = prepare_offer_action(params, state)
            return await self.define_offer(provider, offer_id, body)
        if action in ISSUE_ACTIONS:
            issue_id, after = prepare_issue_action(action, params, state)
            return await self.issue_action(action, params, issue_id=issue_id,
                                           after_message_id=after)
        if action in COMPLAINT_ACTIONS:
            complaint, after_answer = prepare_complaint_action(action, params, state)
            return await self.complaint_action(action, params, issue_id=complaint,
                                               after_message_id=after_answer)
        service = self._service()
        name = self.FUNCTIONS.get(action)
        if service is None or name is None or not hasattr(service, name):
            raise SellerActionFailed(f"the orders service has no {action!r}")
        if not state.order_id:
            raise SellerActionFailed(f"{action} needs a confirmed order")
        st = self.app.state
        now = utcnow()
        fn = getattr(service, name)
        try:
            async with st.db.session() as session:
                if action == "advance":
                    fid = params.get("fulfillment_id")
                    if fid is None and params.get("fulfillment"):
                        fid = fulfillment_id_of_type(state, str(params["fulfillment"]))
                        if fid is None:
                            raise SellerActionFailed(f"no {params['fulfillment']} fulfillment")
                    await fn(session, st.settings, state.order_id, str(params["state"]),
                             now=now, fulfillment_id=fid, reason=params.get("reason"))
                elif action == "cancel":
                    await fn(session, st.settings, state.order_id, str(params["reason"]), now=now)
                elif action == "part_cancel":
                    await fn(session, st.settings, state.order_id,
                             {str(params["item_id"]): int(params.get("quantity", 1))},
                             now=now, reason_code=str(params.get("reason", "002")))
                else:  # accept
                    await fn(session, st.settings, state.order_id, now=now)
        except (LookupError, ValueError) as exc:  # OrderNotFound, IllegalTransition
            raise SellerActionFailed(f"{action}: {exc}") from exc
        st.dispatcher.wake()
        detail = params.get("state") or params.get("reason") or ""
        return f"{action} {detail}".strip()

    async def define_offer(self, provider: str, offer_id: str, body: dict[str, Any]) -> str:
        """``PUT /admin/providers/{provider}/offers/{offer_id}`` on the adapter's own app (in
        process, with its admin key), as a seller's back office would call it. A node whose
        admin API has no such route yet (issue 16's offer storage) fails the step saying so."""
        settings = self.app.state.settings
        key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else ""
        path = f"/admin/providers/{provider}/offers/{offer_id}"
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as http:
            response = await http.put(path, json=body, headers={"X-API-Key": key})
        # FastAPI answers a path it has no route for 404 "Not Found" (a missing provider is a
        # 404 with the node's own detail), and a path with other methods only 405
        if response.status_code == 405 or (
                response.status_code == 404 and '"Not Found"' in response.text[:200]):
            raise SellerActionFailed(
                f"define_offer: the adapter's admin API has no PUT {path} route yet (HTTP "
                f"{response.status_code}; issue 16's offer storage): pending")
        if response.status_code >= 300:
            raise SellerActionFailed(f"define_offer: PUT {path} -> {response.status_code}: "
                                     f"{response.text[:300]}")
        return f"define_offer {body['type']} {offer_id} on {provider}"

    async def _settled(self, message_id: str, action: str = "search") -> None:
        """Wait until the adapter has handled the request ``message_id`` (its inbox row is
        processed): a subscription a search starts or stops must be in place before the
        change, an issue's new action recorded before the seller answers it."""
        from sqlalchemy import select

        from ondc_adapter.inbox import RECEIVED, InboxEntry

        db = self.app.state.db
        deadline = time.monotonic() + self.settle_seconds
        while True:
            async with db.session() as session:
                status = await session.scalar(
                    select(InboxEntry.status).where(
                        InboxEntry.message_id == message_id, InboxEntry.action == action
                    )
                )
            if status is not None and status != RECEIVED:
                return
            if time.monotonic() > deadline:
                what = "received" if status is None else "processed"
                raise SellerActionFailed(
                    f"the adapter has not {what} {action} {message_id} within "
                    f"{self.settle_seconds:g}s"
                )
            await asyncio.sleep(0.02)

    async def catalogue_action(
        self, action: str, params: dict[str, Any], *, after_message_id: str | None
    ) -> str:
        """Change one item (or, ``set_store_status``, the store it ships from) through the
        catalogue's write functions and push the change (``catalogue.handler.push_incremental``),
        in one transaction, as the admin API's ``PATCH /admin/items/{id}/price|stock|status``
        and ``PATCH /admin/providers/{id}/locations/{id}/status`` do; completes ``params`` with
        what the catalogue now shows (``value``: price "123.00" or stock "3"; ``provider`` and
        ``location`` of the store)."""
        from ondc_adapter.catalogue import write
        from ondc_adapter.catalogue.handler import push_incremental
        from ondc_adapter.catalogue.tables import Item

        if action not in CATALOGUE_ACTIONS:
            raise SellerActionFailed(f"no catalogue action {action!r}")
        if after_message_id:
            await self._settled(after_message_id)
        st = self.app.state
        item_id = str(params.get("item", ""))
        now = utcnow()
        async with st.db.session() as session:
            item = await session.get(Item, item_id)
            if item is None or item.deleted_at is not None:
                raise SellerActionFailed(f"{action}: no item {item_id!r} in the catalogue")
            if action == "set_store_status":
                status = str(params.get("status"))
                if status not in STORE_STATUSES:
                    raise SellerActionFailed(
                        f"{action}: status is one of {', '.join(STORE_STATUSES)}")
                if not await write.set_location_status(
                        session, item.provider_id, item.location_id, status, now):
                    raise SellerActionFailed(f"{action}: the store of {item_id!r} is gone")
                pushed = await push_incremental(
                    session, settings=st.settings, now=now, provider_ids=[item.provider_id]
                )
                params.update(provider=item.provider_id, location=item.location_id)
            else:
                await write.change_item(session, item_id, now,
                                        **item_change(action, item, params))
                pushed = await push_incremental(
                    session, settings=st.settings, now=now, item_ids=[item_id]
                )
        st.dispatcher.wake()
        params["pushed"] = len(pushed)
        if action == "set_store_status":
            return (f"{action} {params['location']} of {params['provider']} {params['status']}"
                    f" pushed={len(pushed)}")
        shown = f" {params['value']}" if "value" in params else ""
        return f"{action} {item_id}{shown} pushed={len(pushed)}"

    async def issue_action(
        self, action: str, params: dict[str, Any], *, issue_id: str, after_message_id: str
    ) -> str:
        """Act on the issue through ``igm.service`` (what the admin API and the CLI call) in one
        transaction, its ``on_issue`` written to the outbox in that same transaction, then a
        wake-up of the dispatcher. A refusal (``IssueRefusal``: e.g. resolving before the
        buyer accepted) fails the step with the node's own reason."""
        from ondc_adapter import outbox
        from ondc_adapter.igm import service as igm
        from ondc_adapter.igm.rules import IssueRefusal

        if action not in ISSUE_ACTIONS:
            raise SellerActionFailed(f"no issue action {action!r}")
        await self._settled(after_message_id, "issue")
        st = self.app.state
        now = utcnow()
        try:
            async with st.db.session() as session:
                if action == "issue_handled":
                    record = await igm.find(session, issue_id)
                    if record is None:
                        raise SellerActionFailed(f"the adapter holds no issue {issue_id}")
                    want = params.get("status")
                    if want and record.status != want:
                        raise SellerActionFailed(
                            f"issue {issue_id} is {record.status}, expected {want}")
                    return f"status {record.status}"
                if action == "issue_ask_info":
                    outcome = await igm.ask_info(session, st.settings, issue_id,
                                                 question=str(params["question"]), now=now)
                elif action == "issue_propose":
                    amount = params.get("amount")
                    outcome = await igm.propose(
                        session, st.settings, issue_id, kind=str(params["kind"]), now=now,
                        amount=None if amount is None else str(amount),
                        item_id=params.get("item_id"), text=params.get("text"))
                else:  # issue_process, issue_resolve
                    fn = igm.process if action == "issue_process" else igm.resolve
                    outcome = await fn(session, st.settings, issue_id, now=now,
                                       text=params.get("text"))
                for message in outcome.messages:
                    await outbox.enqueue(session, message, now=now)
        except (IssueRefusal, igm.IssueNotFound) as exc:
            raise SellerActionFailed(f"{action}: {exc}") from exc
        st.dispatcher.wake()
        # the step's key fields: what was done ("propose REFUND"); the issue id is the flow's
        return f"{action.removeprefix('issue_')} {params.get('kind') or ''}".strip()

    async def complaint_action(
        self, action: str, params: dict[str, Any], *, issue_id: str | None,
        after_message_id: str | None,
    ) -> str:
        """The node as complainant (IGM flow 2), through ``igm.complainant`` (what the issues
        CLI calls), its ``issue`` written to the outbox in the same transaction, then a
        wake-up of the dispatcher. A refusal (``IssueRefusal``: accepting with nothing
        proposed, escalating twice...) fails the step with the node's reason."""
        from sqlalchemy import select

        from ondc_adapter import outbox
        from ondc_adapter.igm import complainant
        from ondc_adapter.igm import service as igm
        from ondc_adapter.igm.rules import IssueRefusal
        from ondc_adapter.igm.tables import IssueRecord

        if action not in COMPLAINT_ACTIONS:
            raise SellerActionFailed(f"no complaint action {action!r}")
        if after_message_id:
            await self._settled(after_message_id, "on_issue")
        st = self.app.state
        now = utcnow()
        try:
            async with st.db.session() as session:
                if action == "issue_taken":
                    record = (await session.scalars(select(IssueRecord).where(
                        IssueRecord.issue_id == issue_id,
                        IssueRecord.role == complainant.COMPLAINANT))).first()
                    if record is None:
                        raise SellerActionFailed(f"the adapter raised no issue {issue_id}")
                    for name in ("status", "level"):
                        want, held = params.get(name), getattr(record, name)
                        if want and held != want:
                            raise SellerActionFailed(f"issue {issue_id}: {name} is {held}, "
                                                     f"expected {want}")
                    return f"{record.status} {record.level}"
                if action == "issue_raise":
                    outcome = await complainant.raise_issue(
                        session, st.settings, transaction_id=str(params["transaction"]),
                        provider_id=str(params["provider"]), category=str(params["category"]),
                        short_desc=str(params["short_desc"]), long_desc=str(params["long_desc"]),
                        now=now)
                    params["issue_id"] = outcome.record.issue_id
                else:
                    if issue_id is None:
                        raise SellerActionFailed(f"{action}: the buyer app received no issue")
                    outcome = await complainant.act(
                        session, st.settings, issue_id, COMPLAINT_STEPS[action], now=now,
                        text=params.get("text"))
                for message in outcome.messages:
                    await outbox.enqueue(session, message, now=now)
        except (IssueRefusal, igm.IssueNotFound) as exc:
            raise SellerActionFailed(f"{action}: {exc}") from exc
        st.dispatcher.wake()
        return f"{action.removeprefix('issue_')} {params.get('category') or ''}".strip()
