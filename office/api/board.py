"""Display boards (叫号屏): a public read-only snapshot and a public live-event WebSocket.

Both carry numbers, windows, service names and counts only; never a resident's name or ID.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from office.api.common import PrefixRouter, Public
from office.auth import ctx_of
from office.context import OfficeContext
from office.queue import board

__all__ = ["router"]

router = PrefixRouter(tags=["board"])

#: Identifiers are INTEGER columns: larger values are refused with 422 before reaching the database.
MAX_DB_ID = 2**31 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]

#: Topics a board receives (queue events only; no agent or audit traffic).
BOARD_TOPICS_PREFIX = "queue."


class BoardCallOut(BaseModel):
    """A number called to a video window."""

    ticket_id: int
    number: str
    window_no: int | None
    station_id: int | None
    state: str
    called_at: datetime | None
    service_name: str
    service_name_en: str


class BoardWaitingOut(BaseModel):
    """People waiting for one service."""

    service_id: int
    service_name: str
    service_name_en: str
    waiting: int


class BoardOut(BaseModel):
    """Everything a board shows."""

    office_id: int
    office_name: str
    office_name_en: str
    station_id: int | None
    station_name: str
    current: list[BoardCallOut]
    recent: list[BoardCallOut]
    waiting_total: int
    waiting: list[BoardWaitingOut]


def _call(c: board.BoardCall) -> BoardCallOut:
    return BoardCallOut(
        ticket_id=c.ticket_id,
        number=c.number,
        window_no=c.window_no,
        station_id=c.station_id,
        state=c.state,
        called_at=c.called_at,
        service_name=c.service_name,
        service_name_en=c.service_name_en,
    )


@router.get(
    "/api/board/{office_id}",
    response_model=BoardOut,
    summary="Display board content: current calls, recent calls, people waiting",
    responses={404: {"description": "no such office or station"}},
)
def get_board(
    office_id: DbId,
    request: Request,
    _: Public,
    station_id: int | None = Query(default=None, ge=1, le=MAX_DB_ID),
) -> BoardOut:
    snap = board.snapshot(ctx_of(request), office_id, station_id)
    return BoardOut(
        office_id=snap.office_id,
        office_name=snap.office_name,
        office_name_en=snap.office_name_en,
        station_id=snap.station_id,
        station_name=snap.station_name,
        current=[_call(c) for c in snap.current],
        recent=[_call(c) for c in snap.recent],
        waiting_total=snap.waiting_total,
        waiting=[
            BoardWaitingOut(
                service_id=w.service_id,
                service_name=w.service_name,
                service_name_en=w.service_name_en,
                waiting=w.waiting,
            )
            for w in snap.waiting
        ],
    )


@router.websocket("/ws/board/{office_id}")
async def board_events(websocket: WebSocket, office_id: int) -> None:
    """Stream the office's queue events (read-only; the board ignores anything it is sent)."""
    ctx: OfficeContext = websocket.app.state.ctx
    sub = ctx.events.subscribe(office_id)  # before accepting: nothing after the handshake is missed
    await websocket.accept()
    drain = asyncio.create_task(_drain(websocket))
    try:
        while not drain.done():
            get = asyncio.create_task(sub.get())
            done, _pending = await asyncio.wait({get, drain}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await get
                break
            event = get.result()
            if _for_board(event.topic):
                await websocket.send_text(event.to_json())
    except WebSocketDisconnect:
        pass
    finally:
        sub.close()
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await drain


def _for_board(topic: str) -> bool:
    return (topic.startswith(BOARD_TOPICS_PREFIX) and topic != "queue.agent") or topic == "events.dropped"


async def _drain(websocket: WebSocket) -> None:
    """Read and discard client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
