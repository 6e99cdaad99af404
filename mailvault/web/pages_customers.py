"""The customers directory: external domains and contacts derived from the archive, within
what the reader may see (archive/customers.py does the counting)."""

from __future__ import annotations

import math
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from mailvault.access.audit import Action
from mailvault.archive import customers
from mailvault.archive.models import Message
from mailvault.errors import NotFoundError
from mailvault.web import reading
from mailvault.web.context import Viewer, WebState, state_of, viewer
from mailvault.web.pages import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["customers"])
SignedIn = Annotated[Viewer, Depends(viewer)]
PER_PAGE = 50
Sort = Literal["last", "messages", "name"]


def directory(
    state: WebState, who: Viewer, *, text: str, sort: Sort, offset: int, limit: int
) -> tuple[int, list[customers.DomainSummary]]:
    total, rows = customers.directory(
        state.archive.db,
        state.settings.archive.company_domains,
        scope_condition=who.scope.condition(Message.archive_id),
        text=text,
        sort=sort,
        offset=offset,
        limit=limit,
    )
    reading.record(state, who, Action.LIST_CUSTOMERS, query=text, count=total, detail={"sort": sort})
    return total, rows


def detail(
    state: WebState, who: Viewer, domain: str, *, offset: int, limit: int
) -> tuple[customers.DomainDetail, int, list[customers.ThreadSummary]]:
    condition = who.scope.condition(Message.archive_id)
    company = state.settings.archive.company_domains
    found = customers.domain_detail(state.archive.db, company, domain, scope_condition=condition)
    if found is None:
        raise NotFoundError(f"no customer {domain}")
    total, threads = customers.threads_with(
        state.archive.db, company, domain=domain, scope_condition=condition, offset=offset, limit=limit
    )
    reading.record(state, who, Action.VIEW_CUSTOMER, target=domain, count=total)
    return found, total, threads


@router.get("/customers")
def customers_page(
    request: Request,
    who: SignedIn,
    text: str = "",
    sort: Sort = "last",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    state = state_of(request)
    total, rows = directory(state, who, text=text, sort=sort, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)

    def page_url(number: int) -> str:
        return "/customers?" + urlencode({"text": text, "sort": sort, "page": number})

    return render(
        request,
        "customers.html",
        who,
        "customers",
        rows=rows,
        total=total,
        text=text,
        sort=sort,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        page_url=page_url,
    )


@router.get("/customers/{domain}")
def customer_page(
    request: Request, who: SignedIn, domain: str, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    state = state_of(request)
    found, total, threads = detail(state, who, domain, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)

    def page_url(number: int) -> str:
        return f"/customers/{domain}?" + urlencode({"page": number})

    return render(
        request,
        "customer.html",
        who,
        "customers",
        customer=found,
        threads=threads,
        total=total,
        page=page,
        pages=max(1, math.ceil(total / PER_PAGE)),
        page_url=page_url,
    )


@api_router.get("/customers", summary="External domains the company corresponded with (within your scope)")
def api_customers(
    request: Request,
    who: SignedIn,
    text: str = "",
    sort: Sort = "last",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, object]:
    total, rows = directory(state_of(request), who, text=text, sort=sort, offset=offset, limit=limit)
    return {"total": total, "customers": [r.as_dict() for r in rows]}


@api_router.get("/customers/{domain}", summary="One customer domain: contacts, employees and threads")
def api_customer(
    request: Request,
    who: SignedIn,
    domain: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, object]:
    found, total, threads = detail(state_of(request), who, domain, offset=offset, limit=limit)
    return found.as_dict() | {"threads_total": total, "threads": [t.as_dict() for t in threads]}
