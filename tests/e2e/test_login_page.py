"""The console login page in real Chromium against a real office process."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from office.models import Role
from tests.e2e.conftest import LiveOffice, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_agent_logs_in_through_the_page_and_reaches_the_console(live_office: LiveOffice, page: Any) -> None:
    """Typing valid credentials on the login page lands on the console with the user's name shown."""
    live_office.add_user("wang", Role.AGENT, "Agent-pass-123")
    page.goto(f"{live_office.url}/console/login.html")
    assert page.locator("h2").inner_text() == "坐席登录"
    screenshot(page, "login-zh")
    page.fill("#username", "wang")
    page.fill("#password", "Agent-pass-123")
    page.click("#submit")
    page.wait_for_url(f"{live_office.url}/console/")
    expect(page.locator("#welcome")).to_have_text("您好，测试agent")
    expect(page.locator("#role")).to_have_text("角色：坐席")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "doorstep_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    screenshot(page, "console-after-login")
    assert page.console_errors == []


def test_wrong_password_shows_a_clear_message_and_logout_returns_to_login(
    live_office: LiveOffice, page: Any
) -> None:
    """A wrong password shows the message in Chinese; English is one click away; logout works."""
    live_office.add_user("li", Role.SUPERVISOR, "Super-pass-123")
    page.goto(f"{live_office.url}/console/login.html")
    page.fill("#username", "li")
    page.fill("#password", "wrong-password")
    page.click("#submit")
    expect(page.locator("#error")).to_have_text("用户名或密码错误")
    page.click("#lang")
    expect(page.locator("h2")).to_have_text("Agent login")
    expect(page.locator("#error")).to_have_text("Wrong username or password")
    screenshot(page, "login-en-error")
    page.fill("#password", "Super-pass-123")
    page.click("#submit")
    page.wait_for_url(f"{live_office.url}/console/")
    expect(page.locator("#welcome")).to_have_text("Hello, 测试supervisor")
    page.click("#logout")
    # The workbench's own requests may see the ended session first and add ?next= (both are right).
    page.wait_for_url(re.compile(re.escape(f"{live_office.url}/console/login.html") + r"(\?next=.*)?$"))
    page.goto(f"{live_office.url}/console/")
    page.wait_for_url(f"{live_office.url}/console/login.html?next=%2Fconsole%2F")


def test_api_docs_render_from_packaged_assets_without_network(live_office: LiveOffice, page: Any) -> None:
    """/docs shows Swagger UI with the office's operations, loading nothing from outside the office."""
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(f"{live_office.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("doorstep office")
    expect(page.locator("#operations-auth-login_api_auth_login_post")).to_be_visible()
    assert requested
    assert all(url.startswith(live_office.url) for url in requested), requested
    assert page.console_errors == []
