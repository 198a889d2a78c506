"""Executing a plan: the one entry point the app calls. Above core (the head, the interims) and
faults (drips, broken responses), so neither imports the other's caller."""

from __future__ import annotations

from aiohttp import web

from mockstatus.h2_fault import http1_equivalent
from mockstatus.types import ENCODING_FAULTS, H2_FAULTS, ResponsePlan
from mockstatus.wire import streams
from mockstatus.wire.core import ClientGone, _gone, build_response, send_interims
from mockstatus.wire.faults import send_drip, send_fault


async def send(request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
    """Execute a plan: interims, delay, then the final response, a drip or a fault."""
    if plan.fault is not None and plan.fault.kind in H2_FAULTS:
        plan = http1_equivalent(plan)  # rst_stream, goaway: docs/http2.md
    try:
        if plan.interims or plan.delay:
            await send_interims(request, plan)
        if plan.stream is not None or (plan.fault is not None and streams.handles(plan)):
            return await streams.send_stream(request, plan)
        if plan.fault is not None and plan.fault.kind not in ENCODING_FAULTS:
            return await send_fault(request, plan, plan.fault)
        if plan.drip is not None and plan.body and not plan.head and not plan.bodiless:
            return await send_drip(request, plan, plan.drip)
        return build_response(plan)
    except (ClientGone, ConnectionResetError):
        return _gone()
