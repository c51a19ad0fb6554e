"""Console page: what buyer apps refused of the store's catalogue (``catalog_rejection``), with
ONDC's meaning of each code and a link to the item to fix."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from ondc_adapter.catalogue import rejections
from ondc_adapter.console.web import NotFound, Page, page_for

router = APIRouter(prefix="/console/rejections", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def list_rejections(store: str = "", page: Page = Depends(page_for)) -> Response:
    who = page.require()
    if store and not who.may_see(store[:64]):
        raise NotFound
    provider = who.provider_id if not who.operator else (store[:64] or None)
    async with page.db.session() as session:
        rows = await rejections.list_rejections(session, provider_id=provider, limit=200)
    codes = rejections.rejection_codes()
    return page.render("rejections.html", rows=rows, codes=codes)
