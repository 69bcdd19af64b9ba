"""Fixtures for the browser tests: the app served by a real HTTP server in a thread, one headless
Debian chromium per session (never a browser Playwright downloads), a fresh context per test, and
helpers to log in and save screenshots to test-artifacts/."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The browser reaches nothing off this machine: every name it would look up fails at once
    # (ERR_NAME_NOT_RESOLVED), so a request no route answered can never reach a real provider.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # Chromium reloads an error page by itself 1 s later: that reload is a fresh navigation a route
    # answers, which hid a redirect to a real host (routes never see a redirect) until it came late.
    "--disable-auto-reload",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Every page's browser context: a laptop's window, downloads kept for the tests to read.
CONTEXT_OPTIONS = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True}


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The test app over real HTTP, as `crmhub run` serves it (threaded)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ui-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() starts chromium on a new temporary profile each session.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Dialogs:
    """The questions the page asked (`confirm`), each answered OK, or Cancel while `accept` is False."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.accept = True

    def answer(self, dialog) -> None:
        self.asked.append(dialog.message)
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@contextmanager
def browser_page(browser, live_server: str, dialogs: Dialogs | None = None, **options) -> Iterator:
    """A page in a fresh browser context (CONTEXT_OPTIONS, overridden by `options`, e.g. a
    `locale`); fails the test on any JavaScript error the page raised and on any request that
    went for a host off this machine."""
    context = browser.new_context(base_url=live_server, **{**CONTEXT_OPTIONS, **options})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    context.on("requestfailed", lambda request: _off_machine(request, outside))
    if dialogs is not None:
        context.on("dialog", dialogs.answer)  # every page of the context, also a second tab
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
    assert outside == [], (
        f"The browser went for hosts off this machine, which no route answered: {outside}. Playwright "
        "routes only the first request of a redirect chain: answer at the request that redirects."
    )


def _off_machine(request, outside: list[str]) -> None:
    # CHROMIUM_ARGS make every name lookup fail, so this failure is a request that went for the network
    # off this machine; a request a route answered never looks a name up.
    if request.failure == "net::ERR_NAME_NOT_RESOLVED":
        chain = [request.url]
        while (request := request.redirected_from) is not None:
            chain.insert(0, request.url)
        outside.append(" → ".join(chain))


@pytest.fixture
def page(browser, live_server, dialogs):
    with browser_page(browser, live_server, dialogs) as page:
        yield page


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    # By id, not by label: the page speaks the browser's language.
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("#password").press("Enter")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


def pdf_screenshot(data: bytes, name: str, folder: Path = ARTIFACTS, dpi: int = 100) -> Path:
    """The first page of a PDF as a PNG in `folder`, drawn by poppler's pdftoppm (`make fonts`)."""
    folder.mkdir(exist_ok=True)
    target = folder / name
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", "-", str(target)], input=data, check=True)
    return target.with_suffix(".png")


def assert_drawn(png: Path) -> None:
    """The PNG shows something: at least 1 pixel in 500 is dark (text, borders), where a blank
    capture (a page not yet drawn, an empty PDF page) has none."""
    with Image.open(png) as image:
        grey = image.convert("L")
    dark = sum(grey.histogram()[:128])
    assert dark * 500 >= grey.width * grey.height, f"{png.name}: {dark} dark pixels of {grey.width}x{grey.height}"


def nav(page, name: str) -> None:
    """Follow a link of the main navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()
