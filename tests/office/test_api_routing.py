"""PrefixRouter (office.api.common): skipping a router whose routes cannot match a path changes no
answer: matches, 405s, trailing-slash redirects and later routers behave as with plain routers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from office.api.common import PrefixRouter


def _app(router_class: type[APIRouter]) -> FastAPI:
    first = router_class(prefix="/api")
    second = router_class()

    @first.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @first.post("/orders")
    def order() -> dict[str, str]:
        return {"router": "first"}

    @second.get("/api/orders")
    def orders() -> dict[str, str]:
        return {"router": "second"}

    @second.get("/healthz")
    def health() -> dict[str, str]:
        return {"ok": "yes"}

    app = FastAPI()
    app.include_router(first)
    app.include_router(second)
    return app


def _answers(app: FastAPI, root_path: str = "") -> list[tuple[int, str]]:
    c = TestClient(app, follow_redirects=False, root_path=root_path)
    requests = [
        ("GET", "/api/items/7"),
        ("GET", "/api/items/x"),
        ("POST", "/api/orders"),
        ("GET", "/api/orders"),
        ("PUT", "/api/orders"),
        ("GET", "/healthz"),
        ("GET", "/healthz/"),
        ("GET", "/api/items/7/"),
        ("GET", "/elsewhere"),
    ]
    out = []
    for method, path in requests:
        r = c.request(method, path)
        out.append((r.status_code, r.text if r.status_code < 300 else r.headers.get("location", "")))
    return out


def test_answers_equal_those_of_plain_routers() -> None:
    """Every request gets the same status and body (or redirect target) as with APIRouter."""
    expected = _answers(_app(APIRouter))
    assert _answers(_app(PrefixRouter)) == expected
    assert [s for s, _ in expected] == [200, 422, 200, 200, 405, 200, 307, 307, 404]


def test_behind_a_root_path_nothing_is_skipped() -> None:
    """Under a root path the router matches as a plain one (no shortcut on the raw path)."""
    assert _answers(_app(PrefixRouter), root_path="/office") == _answers(_app(APIRouter), root_path="/office")
