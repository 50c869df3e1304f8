"""The web console in a real browser: Playwright drives Debian's Chromium (headless,
/usr/bin/chromium; nothing is downloaded) against the HTTP server, on both backends.

One story: an administrator creates a registrar, credits it and gives it a console user;
that user signs in with a TOTP code (keyboard only), searches a name, registers it (price
first), sets nameservers and a DS record, finds it on the public lookup page and over RDAP, transfers a
name from another registrar, downloads the ledger; another registrar's domain URL is 404.
Accessibility basics on every page visited (one h1, every control labelled, no horizontal
overflow on a phone). Screenshots of the main pages go to docs/screenshots/ with
`DOMREG_SCREENSHOTS=1` (README).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest
import pytest_asyncio

from domreg.clock import Clock
from domreg.config import Config
from domreg.http.app import HttpContext, HttpServer, build_app
from domreg.store.db import Database
from tests import web_support as ws

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.asyncio
CHROMIUM = Path("/usr/bin/chromium")
#: Where `DOMREG_SCREENSHOTS=1` writes the README's screenshots; otherwise they go to a
#: temporary directory (taking them still exercises every page), so a test run leaves the
#: working tree as it was.
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DIGEST = "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE23BF5E07C4CF0DE8B8F8FA3D"


@pytest_asyncio.fixture
async def site(db: Database) -> AsyncIterator[str]:
    ws.add_users(db)
    ws.create_domain(db, "ClientY", "moving.test", auth="move-Code-42")
    ws.create_domain(db, "ClientY", "private.test")
    server = HttpServer(build_app(HttpContext(db=db, clock=Clock(), cfg=Config())))
    await server.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def check_a11y(page: object) -> None:
    """One h1; every visible form control has a label; the page fits the viewport's width."""
    p: any = page  # type: ignore[valid-type]
    h1 = await p.locator("h1").count()
    assert h1 == 1, f"{p.url}: {h1} h1 elements"
    unlabelled = await p.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.name)"""
    )
    assert unlabelled == [], f"{p.url}: unlabelled controls {unlabelled}"
    overflow = await p.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{p.url}: {overflow}px wider than the viewport"
    assert await p.locator("main#main").count() == 1


async def test_browser_story(site: str, database_url: str, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    shots = database_url.startswith("sqlite")  # one backend takes the screenshots
    out = SHOTS if os.environ.get("DOMREG_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)

    async def shot(page: object, name: str) -> None:
        await check_a11y(page)
        if shots:
            await page.screenshot(path=str(out / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            # ---- the administrator: create a registrar, credit it, give it a user
            admin = await browser.new_context(viewport={"width": 1200, "height": 900})
            page = await admin.new_page()
            await page.goto(f"{site}/admin")
            assert page.url.endswith("/login?next=/admin")
            await shot(page, "login")
            await page.get_by_label("User name").fill("admin")
            await page.get_by_label("Password").fill(ws.PASSWORD)
            await page.get_by_label("Authentication code").fill(pyotp.TOTP(ws.ADMIN_SECRET).now())
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{site}/admin")
            await page.goto(f"{site}/admin/registrars")
            await page.get_by_label("Registrar id (EPP client id)").fill("WebReg")
            await page.get_by_label("Name", exact=True).fill("Web Registrar GmbH")
            await page.get_by_label("EPP password").fill("epp-Pass-1")
            await page.get_by_role("button", name="Create registrar").click()
            await page.wait_for_url(re.compile(r".*/admin/registrars/WebReg.*"))
            await page.get_by_label("Amount (USD)").fill("1000.00")
            await page.get_by_label("Reason").fill("opening deposit")
            await page.get_by_role("button", name="Post to the ledger").click()
            await page.wait_for_url(re.compile(r".*done=credited"))
            assert await page.locator("#balance").inner_text() == "1,000.00 USD"
            await page.get_by_label("New user name").fill("web-ops")
            await page.get_by_label("Password").fill("long-Pass-123")
            await page.get_by_role("button", name="Add user").click()
            secret = await page.locator("#totp-secret").inner_text()
            await shot(page, "admin-registrar")
            await page.goto(f"{site}/admin/tlds/test")
            await shot(page, "admin-tld")

            # ---- the registrar: sign in by keyboard with TOTP
            reg = await browser.new_context(
                viewport={"width": 1200, "height": 900}, accept_downloads=True
            )
            page = await reg.new_page()
            await page.goto(f"{site}/login")
            await page.keyboard.press("Tab")  # the skip link comes first
            assert await page.evaluate("document.activeElement.className") == "skip"
            await page.focus("#f-username")
            await page.keyboard.type("web-ops")
            await page.keyboard.press("Tab")
            await page.keyboard.type("long-Pass-123")
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "f-code"
            await page.keyboard.type(pyotp.TOTP(secret).now())
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"{site}/console")

            # public search: a Unicode name, available with its price
            await page.goto(f"{site}/")
            await page.get_by_label("Names to check").fill("bücher.test\nmoving.test")
            await page.get_by_role("button", name="Search").click()
            row = page.locator("tr", has_text="bücher.test")
            assert "Available" in await row.inner_text() and "10.00 USD" in await row.inner_text()
            await shot(page, "public-search")

            # register: the price is shown first
            await page.goto(f"{site}/console/register")
            await page.get_by_label("Domain name").fill("bücher.test")
            await page.get_by_role("button", name="Check price").click()
            assert await page.locator("#price").inner_text() == "10.00 USD"
            await shot(page, "console-register")
            await page.get_by_role("button", name="Register for 10.00 USD").click()
            await page.wait_for_url(
                re.compile(r".*/console/domains/xn--bcher-kva\.test\?done=registered")
            )

            # nameservers and a DS record
            await page.get_by_label("Nameservers (one per line)").fill(
                "ns1.example.org\nns2.example.org"
            )
            await page.get_by_role("button", name="Save nameservers").click()
            await page.wait_for_url(re.compile(r".*done=nameservers"))
            await page.get_by_label("Key tag").fill("12345")
            await page.get_by_label("Digest (hex)").fill(DIGEST)
            await page.get_by_role("button", name="Add DS record").click()
            await page.wait_for_url(re.compile(r".*done=ds"))
            assert f"12345 13 2 {DIGEST}" in await page.content()
            await shot(page, "console-domain")

            # the public lookup page shows it
            await page.goto(f"{site}/lookup")
            await page.get_by_label("Domain, nameserver or registrar id").fill("bücher.test")
            await page.keyboard.press("Enter")
            await page.wait_for_url(re.compile(r".*/lookup\?q=.*"))
            text = await page.locator("main").inner_text()
            assert "WebReg" in text and "ns1.example.org" in text and DIGEST in text
            await shot(page, "public-lookup")
            # ... and over RDAP (the page's link to the same answer as JSON)
            await page.locator("#rdap-link").click()
            rdap = json.loads(await page.locator("body").inner_text())
            assert rdap["ldhName"] == "xn--bcher-kva.test" and rdap["unicodeName"] == "bücher.test"
            assert sorted(n["ldhName"] for n in rdap["nameservers"]) == [
                "ns1.example.org",
                "ns2.example.org",
            ]
            assert rdap["secureDNS"]["dsData"][0]["keyTag"] == 12345
            assert rdap["secureDNS"]["dsData"][0]["digest"].upper() == DIGEST

            # transfer a name from another registrar (ClientY approves in its own console)
            await page.goto(f"{site}/console/transfers")
            await page.get_by_label("Domain name").fill("moving.test")
            await page.get_by_label("Auth code (from the current registrar)").fill("move-Code-42")
            await page.get_by_role("button", name="Request transfer").click()
            await page.wait_for_url(re.compile(r".*done=transfer-requested"))
            assert "moving.test" in await page.locator("main").inner_text()
            await shot(page, "console-transfers")
            other = await browser.new_context()
            op = await other.new_page()
            await op.goto(f"{site}/login")
            await op.get_by_label("User name").fill("y-user")
            await op.get_by_label("Password").fill(ws.PASSWORD)
            await op.get_by_label("Authentication code").fill(
                pyotp.TOTP(ws.SECRETS["y-user"]).now()
            )
            await op.get_by_role("button", name="Sign in").click()
            await op.wait_for_url(f"{site}/console")
            await op.goto(f"{site}/console/transfers")
            await op.get_by_role("button", name="Approve").click()
            await op.wait_for_url(re.compile(r".*done=transfer-approved"))
            await page.goto(f"{site}/console/domains/moving.test")
            assert "moving.test" in await page.locator("h1").inner_text()

            # another registrar's domain: 404
            response = await page.goto(f"{site}/console/domains/private.test")
            assert response is not None and response.status == 404
            response = await page.goto(f"{site}/admin")
            assert response is not None and response.status == 404

            # dashboard, domains, ledger download
            await page.goto(f"{site}/console")
            assert await page.locator("#domain-count").inner_text() == "2"
            assert await page.locator("svg.chart").count() == 1
            await shot(page, "console-dashboard")
            await page.goto(f"{site}/console/domains")
            await shot(page, "console-domains")
            await page.goto(f"{site}/console/billing")
            async with page.expect_download() as info:
                await page.locator("#csv").click()
            download = await info.value
            rows = list(csv.DictReader(io.StringIO(Path(await download.path()).read_text())))
            kinds = sorted(r["kind"] for r in rows)
            assert kinds == ["create", "topup", "transfer"], kinds
            await shot(page, "console-billing")

            # a phone
            phone = await browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True
            )
            mp = await phone.new_page()
            await mp.goto(f"{site}/")
            await mp.get_by_label("Names to check").fill("solo")
            await mp.get_by_role("button", name="Search").click()
            await shot(mp, "phone-search")

            # the administrator's audit log shows who did what
            await admin.pages[0].goto(f"{site}/admin/audit?q=xn--bcher-kva")
            audit = await admin.pages[0].locator("main").inner_text()
            assert "web:web-ops" in audit and "domain.create" in audit
            await shot(admin.pages[0], "admin-audit")
        finally:
            await browser.close()
