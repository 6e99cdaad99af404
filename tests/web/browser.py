"""A real browser against a real server: the web app under uvicorn on a free loopback port, driven
by Debian's Chromium through Playwright (never a downloaded browser: `playwright install` does not
work on these machines, see notes/test-servers.md).

Plain helpers (`live_server`, `launch_chromium`, `sign_in`, `RemoteRecorder`) serve the tests and
scripts/screenshots alike; the fixtures below are loaded by test modules with
`pytest_plugins = ["tests.web.browser"]`. The browser tests run on SQLite only: what they check is
the browser's side, which the database does not change.

PYTEST_DONT_REWRITE: test modules import helpers from here before pytest loads it as their plugin,
too late for assertion rewriting (a warning, hence an error); there are no asserts here to rewrite.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, sync_playwright

from mailvault.config import Settings
from mailvault.web.worker import server_for
from tests.servers import REQUIRE_ENV
from tests.web.conftest import PASSWORD, PNG, Company, build_company

CHROMIUM = Path("/usr/bin/chromium")  # Debian's `chromium` package
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000  # a step that takes longer has failed; Playwright's default is 30 s


class LiveServer:
    """The web app served by uvicorn in a background thread, on a socket bound before it starts
    (no race for the port). `server_for` is what `mailvault web` runs: same headers, same config."""

    def __init__(self, settings: Settings) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        port = int(self._socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        self._server = server_for(settings)
        self._thread = threading.Thread(target=self._serve, name="mailvault-live-server", daemon=True)
        self._failure: BaseException | None = None

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # handed to the test thread by start() or stop()
            self._failure = exc

    def start(self, seconds: float = 15.0) -> None:
        """Start serving and wait until the sign-in page answers; stop() cleans up either way."""
        self._thread.start()
        deadline = time.monotonic() + seconds
        while not (self._server.started and self._answers()):
            if not self._thread.is_alive():
                failure, self._failure = self._failure, None  # reported here, not again by stop()
                raise RuntimeError("the web app did not start (its log says why)") from failure
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web app did not answer at {self.url} within {seconds:.0f} s")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/login", timeout=2) as answer:  # noqa: S310 (our own http URL)
                return int(answer.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, seconds: float = 15.0) -> None:
        """Ask uvicorn to shut down (it closes idle keep-alive connections) and wait for it."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(seconds)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError(f"the web app at {self.url} did not stop within {seconds:.0f} s")
        if self._failure is not None:
            raise RuntimeError("the web app failed while serving") from self._failure


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class RemoteRecorder:
    """A tiny HTTP server standing for the internet a hostile message points at: it answers
    everything (an image for *.png) and records each request's path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder._record(self.path)
                body = PNG if self.path.endswith(".png") else b"recorded\n"
                self.send_response(200)
                self.send_header("Content-Type", "image/png" if body is PNG else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_OPTIONS = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass  # the recorded paths are what the tests look at

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="remote-recorder", daemon=True
        )

    def _record(self, path: str) -> None:
        with self._lock:
            self._paths.append(path)

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    def clear(self) -> None:
        with self._lock:
            self._paths.clear()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    return None


def require_chromium() -> None:
    """Skip without Chromium; fail instead where every server must be there (CI sets REQUIRE_ENV)."""
    missing = chromium_missing()
    if missing is None:
        return
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{missing}; the browser tests are required here: run `bash .ci/run`")
    pytest.skip(f"{missing}; `bash .ci/run` does it")


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def new_context(browser: Browser, base_url: str, *, locale: str = "en-US") -> BrowserContext:
    """A fresh profile (no cookies) whose Accept-Language follows `locale`."""
    context = browser.new_context(
        base_url=base_url,
        locale=locale,
        viewport=VIEWPORT,
        accept_downloads=True,
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Through the sign-in form, as a person would; ends on the search page."""
    if urlsplit(page.url).path != "/login":
        page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/search")


@contextmanager
def isolated_from_machine_config() -> Iterator[None]:
    """What tests/conftest.py's autouse fixture does for each test, for module-scoped fixtures
    (they start before it) and the screenshot script: no /etc/mailvault, no MAILVAULT_* variables."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("MAILVAULT_") and name != REQUIRE_ENV:
                patch.delenv(name)
        patch.setattr("mailvault.config.SYSTEM_CONFIG", Path("/nonexistent/mailvault.toml"))
        yield


# Fixtures. Module scope: building the company (password hashing) and starting Chromium take
# seconds, and the browser tests only read the archive (the one account change is the employee's
# language, which no other browser test looks at).


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteRecorder]:
    recorder = RemoteRecorder()
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()


@pytest.fixture(scope="module")
def live_company(tmp_path_factory: pytest.TempPathFactory, remote: RemoteRecorder) -> Company:
    """The test company on SQLite; its hostile message points at the `remote` recorder."""
    folder = tmp_path_factory.mktemp("browser")
    with isolated_from_machine_config():
        return build_company(folder, f"sqlite:///{folder / 'mailvault.sqlite3'}", remote.port)


@pytest.fixture(scope="module")
def live(live_company: Company) -> Iterator[LiveServer]:
    with live_server(live_company.settings) as server:
        yield server


@pytest.fixture
def page(chromium: Browser, live: LiveServer) -> Iterator[Page]:
    """A page in a fresh English-speaking profile, on the live server."""
    context = new_context(chromium, live.url)
    try:
        yield context.new_page()
    finally:
        context.close()
