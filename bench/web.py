"""Web search benchmark (issue 6): response time of the search page, p50/p95 over 200 realistic
queries on an archive of about 1,000,000 generated messages, as a signed-in user sees it.

Reuses an archive bench/search.py built (default /work/bench-data/search-1m: its SQLite database,
blobs and tantivy index; nothing is generated or re-indexed here). Creates two users in it (an
admin, and a manager granted one busy employee and one customer domain, so that the manager's
searches go through the permission filter), runs the real app (uvicorn, `web.worker.server_for`)
in a process of its own on a free loopback port, signs in through POST /api/login and times the
full HTTP round trip of GET /search?q=... (search restricted to the user's scope, archive rows,
snippets parsed from the stored raw messages, audit record, template) one request at a time, after
a warm-up; GET /api/search (JSON, no template) for the same queries in the same pass, alternating
which goes first. With py-spy installed, a sampled profile of the server answering the slowest.

Then, in this process with the server stopped: the route functions called directly with each step
timed (wrappers installed here only), over every query and over the slowest ones; the slowest
admin page that reads raw messages again with them evicted from the page cache; and a cProfile of
each user's slowest page.

The archive gains users, sessions and audit records (the audit trail cannot be deleted); run
`mailvault db upgrade` on it first if it predates schema revision 0004.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import pstats
import random
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

if __name__ == "__main__" and not __package__:
    # Run as `python bench/web.py` from anywhere: make the `bench` package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2 as httpx
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

import mailvault
from bench.ingest import filesystem_of, find_mailvault, mailvault_version
from bench.search import COMPANY_DOMAIN, QUERIES, TARGET_P95_MS, load_queries, machine, percentile
from bench.vocabulary import CUSTOMER_SHORT, CUSTOMERS, PRODUCTS, STAFF
from mailvault.access import audit, sessions, users
from mailvault.access.models import GrantKind, UserRole
from mailvault.access.scope import Scope
from mailvault.access.users import UserError, UserInfo
from mailvault.archive import migrate
from mailvault.archive.blobs import LocalBlobStore
from mailvault.archive.db import Database
from mailvault.archive.models import Message
from mailvault.config import Settings, load_settings
from mailvault.index import search as index_search
from mailvault.index.engine import Sort
from mailvault.index.query import Everything
from mailvault.index.tantivy_engine import TantivyEngine
from mailvault.log import setup_logging
from mailvault.web import pages, reading
from mailvault.web.app import create_app
from mailvault.web.context import SESSION_COOKIE, WebState, viewer
from mailvault.web.worker import server_for

DATA_DIR = Path("/work/bench-data/search-1m/data")  # bench/search.py --reuse /work/bench-data/search-1m
ADMIN, MANAGER = "bench-admin", "bench-manager"
EMPLOYEE = f"zhangwei@{COMPANY_DOMAIN}"  # the busiest employee of mailgen's mail
CUSTOMER_DOMAIN = "mueller-elektronik.de"  # one of the busiest customer domains
PER_PAGE = pages.PER_PAGE
ROLES = (ADMIN, MANAGER)
KINDS = ("page", "api")


# ---------------------------------------------------------------------------------------------
# The queries: bench/search_queries.txt, plus combinations of mailgen's vocabulary typed the way
# people use the form (filters, date pickers, the attachment box), some sorted by relevance, some
# asking for page 2.


@dataclass(frozen=True, slots=True)
class WebQuery:
    q: str  # the search box
    sort: Sort
    page: int = 1
    after: str = ""  # the form's date pickers
    before: str = ""
    attachment: bool = False  # the form's "with attachments" box
    origin: str = "file"  # search_queries.txt or generated

    @property
    def full(self) -> str:
        """The query the app runs: the box plus the form's filters."""
        return pages.full_query(self.q, self.after, self.before, "", "", self.attachment)

    def page_params(self) -> dict[str, str]:
        params = {"q": self.q, "sort": str(self.sort)}
        if self.after:
            params["after"] = self.after
        if self.before:
            params["before"] = self.before
        if self.attachment:
            params["attachment"] = "1"
        if self.page > 1:
            params["page"] = str(self.page)
        return params

    def api_params(self) -> dict[str, str]:
        return {
            "q": self.full,
            "sort": str(self.sort),
            "offset": str((self.page - 1) * PER_PAGE),
            "limit": str(PER_PAGE),
        }

    def label(self) -> str:
        page = f" page {self.page}" if self.page > 1 else ""
        return f"[{self.sort}{page}] {self.full}"

    def as_dict(self) -> dict[str, Any]:
        return {"q": self.q, "full_query": self.full, "sort": str(self.sort), "page": self.page}


_ZH_WORDS = ("报价", "发票", "样品", "订舱", "付款", "交期", "合同", "验货", "出货", "对账单", "涨价", "退货")
_EN_WORDS = ("quotation", "invoice", "samples", "shipment", "payment", "delivery", "order", "price", "urgent")


def _month(rng: random.Random) -> str:
    return f"{rng.choice((2023, 2024))}-{rng.randint(1, 12):02d}-01"


def _span(rng: random.Random) -> tuple[str, str]:
    """Dates as the form's two pickers send them: after, then before, one to twelve months later."""
    start = rng.randint(0, 22)
    end = min(start + rng.randint(1, 12), 24)
    return (
        f"{2023 + start // 12}-{start % 12 + 1:02d}-01",
        f"{2023 + end // 12}-{end % 12 + 1:02d}-01",
    )


def generated_query(rng: random.Random) -> WebQuery:
    name, pinyin, _, _ = rng.choice(STAFF)
    staff = f"{pinyin}@{COMPANY_DOMAIN}"
    org, people = rng.choice(CUSTOMERS)
    person = f"{rng.choice(people)[1]}@{org.domain}"
    product = rng.choice(PRODUCTS)
    zh, en = rng.choice(_ZH_WORDS), rng.choice(_EN_WORDS)
    sort = Sort.RELEVANCE if rng.random() < 0.25 else Sort.DATE
    choices: list[Callable[[], WebQuery]] = [
        lambda: WebQuery(f"from:{staff} {zh}", sort),
        lambda: WebQuery(f"to:{org.domain} {en}", sort),
        lambda: WebQuery(f"domain:{org.domain} after:{_month(rng)}", sort),
        lambda: WebQuery(f"{name} {rng.choice(CUSTOMER_SHORT)}", sort),
        lambda: WebQuery(f"from:{person} has:attachment", sort),
        lambda: WebQuery(f"{rng.choice(CUSTOMER_SHORT)} before:{_month(rng)}", sort),
        lambda: WebQuery(f'"{product[1]}" {en}', sort),
        lambda: WebQuery(f"{product[2].split()[0]} {zh}", sort),
        lambda: WebQuery(product[4], sort),
        lambda: WebQuery(f"from:{org.domain} to:{staff}", sort),
        lambda: WebQuery(f"({en} OR {zh}) domain:{org.domain}", sort),
        lambda: WebQuery(product[1], sort, after=_month(rng), attachment=rng.random() < 0.5),
        lambda: WebQuery(zh, sort, 1, *_span(rng)),
    ]
    return replace(rng.choice(choices)(), origin="generated")


def build_queries(
    path: Path, count: int, warm_up: int, generated_share: float, page2_share: float, seed: int
) -> tuple[list[WebQuery], list[WebQuery]]:
    """(timed queries, warm-up queries): different queries, the same mix."""
    rng = random.Random(seed)
    from_file = [WebQuery(query.text, query.sort) for query in load_queries(path)]
    rng.shuffle(from_file)
    generated_n = round(count * generated_share)
    file_n = count - generated_n
    if file_n + warm_up > len(from_file):
        sys.exit(f"bench: {path} holds {len(from_file)} queries; {file_n} timed + {warm_up} warm-up asked")
    timed = from_file[:file_n] + [generated_query(rng) for _ in range(generated_n)]
    for i in rng.sample(range(count), round(count * page2_share)):
        timed[i] = replace(timed[i], page=2)
    rng.shuffle(timed)
    return timed, from_file[file_n : file_n + warm_up]


# ---------------------------------------------------------------------------------------------
# The archive, its users and the server.


@dataclass
class Setup:
    workdir: Path
    data_dir: Path
    port: int
    config: Path = field(init=False)
    passwords: dict[str, str] = field(default_factory=dict)
    users: dict[str, UserInfo] = field(default_factory=dict)
    phases: list[tuple[str, tuple[float, float, float]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = self.workdir / "web-bench.toml"
        # Defaults except the engine (the 1M archive's) and plain-HTTP cookies on loopback.
        self.config.write_text(
            "# mailvault settings for bench/web.py; everything else is at its default.\n"
            f'[archive]\ndata_dir = "{self.data_dir}"\ncompany_domains = ["{COMPANY_DOMAIN}"]\n'
            '[index]\nengine = "tantivy"\n'
            f'[web]\naddress = "127.0.0.1"\nport = {self.port}\nsecure_cookies = false\n'
            '[log]\nlevel = "WARNING"\n'
        )

    def settings(self) -> Settings:
        return load_settings(self.config)

    def phase(self, name: str) -> None:
        load = os.getloadavg()
        self.phases.append((name, load))
        print(f"bench: {name} (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})", file=sys.stderr)


def check_schema(settings: Settings, config: Path) -> None:
    db = Database(settings.archive.resolved_database_url)
    try:
        current, head = migrate.current_revision(db), migrate.head_revision(db)
    finally:
        db.dispose()
    if current != head:
        sys.exit(
            f"bench: the database is at schema revision {current}, this mailvault needs {head}: "
            f"run `python -m mailvault --config {config} db upgrade` first"
        )


def ensure_users(setup: Setup, db: Database, employee: str, domain: str) -> None:
    """The admin and the manager, with fresh passwords; the manager holds exactly these grants."""
    for username, role in ((ADMIN, UserRole.ADMIN), (MANAGER, UserRole.MANAGER)):
        password = secrets.token_urlsafe(18)
        try:
            users.add_user(db, username, password, role, display_name=f"bench/web.py {role}")
        except UserError:  # an earlier run's: same name, new password
            users.set_password(db, username, password)
        setup.passwords[username] = password
    wanted = {(str(GrantKind.EMPLOYEE), employee), (str(GrantKind.DOMAIN), domain)}
    for info in users.list_users(db):
        if info.username == MANAGER:
            for kind, value in set(info.grants) - wanted:
                users.revoke(db, MANAGER, GrantKind(kind), value)
    users.grant(db, MANAGER, GrantKind.EMPLOYEE, employee, by="bench/web.py")
    users.grant(db, MANAGER, GrantKind.DOMAIN, domain, by="bench/web.py")
    setup.users = {u.username: u for u in users.list_users(db) if u.username in ROLES}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(config: str) -> None:
    """The server process: the app as `mailvault web` runs it (without the indexer beside it)."""
    settings = load_settings(Path(config))
    setup_logging(settings.log.level)
    server_for(settings).run()


@contextmanager
def running_server(setup: Setup) -> Iterator[multiprocessing.process.BaseProcess]:
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(str(setup.config),), name="mailvault-web-bench"
    )
    process.start()
    try:
        deadline = time.monotonic() + 180
        while True:
            if not process.is_alive():
                sys.exit(f"bench: the web server exited with {process.exitcode} before answering")
            try:
                if httpx.get(f"http://127.0.0.1:{setup.port}/login", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit("bench: the web server did not answer within 180 s")
            time.sleep(0.2)
        yield process
    finally:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()


def signed_in_client(setup: Setup, username: str) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{setup.port}", timeout=300)
    answer = client.post("/api/login", json={"username": username, "password": setup.passwords[username]})
    if answer.status_code != 200 or SESSION_COOKIE not in client.cookies:
        sys.exit(f"bench: signing in as {username} failed: {answer.status_code} {answer.text[:300]}")
    return client


# ---------------------------------------------------------------------------------------------
# Timing over HTTP.


@dataclass
class Sample:
    ms: float
    status: int
    size: int  # response body bytes
    total: int | None = None  # hits (API only)
    shown: int | None = None  # results on the page (API only)
    query_error: bool = False


@dataclass
class Series:
    role: str
    kind: str  # page or api
    samples: list[Sample] = field(default_factory=list)

    def ms(self) -> list[float]:
        return [s.ms for s in self.samples]

    def summary(self) -> dict[str, float]:
        values = self.ms()
        return {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values, default=0.0), 1),
            "mean_ms": round(statistics.fmean(values), 1) if values else 0.0,
        }


def timed_get(client: httpx.Client, kind: str, query: WebQuery) -> Sample:
    path, params = ("/search", query.page_params()) if kind == "page" else ("/api/search", query.api_params())
    started = time.perf_counter()
    answer = client.get(path, params=params)
    body = answer.content  # read in full: part of the round trip
    ms = (time.perf_counter() - started) * 1000
    sample = Sample(ms, answer.status_code, len(body))
    if kind == "api" and answer.status_code == 200:
        found = answer.json()
        sample.total, sample.shown = int(found["total"]), len(found["results"])
    elif kind == "api":
        sample.query_error = answer.status_code == 400
    else:
        sample.query_error = 'class="error"' in answer.text
    return sample


def measure(
    client: httpx.Client, role: str, queries: list[WebQuery], warm_up: list[WebQuery]
) -> dict[str, Series]:
    """Warm-up (not counted), then each query as a page and through the API, alternating which
    goes first, so that neither always finds the other's raw messages in the page cache."""
    for query in warm_up:
        for kind in KINDS:
            timed_get(client, kind, query)
    series = {kind: Series(role, kind) for kind in KINDS}
    for i, query in enumerate(queries):
        for kind in KINDS if i % 2 == 0 else tuple(reversed(KINDS)):
            series[kind].samples.append(timed_get(client, kind, query))
        if (i + 1) % 50 == 0:
            print(f"  {role}: {i + 1}/{len(queries)}", file=sys.stderr, flush=True)
    return series


# ---------------------------------------------------------------------------------------------
# In this process: the route's steps timed, and cProfile.

STEPS = (
    "session lookup (sessions.find)",
    "index reload (engine.refresh)",
    "engine search (tantivy, scope in the query)",
    "read raw messages (blob files + zstd)",
    "parse raw messages (mime.parse_message)",
    "snippets (search.snippet)",
    "archive rows + rest of search.search",
    "scope check (Scope.visible, SQL)",
    "audit insert (commit, fsync)",
    "template render (search.html)",
    "rest of the route",
)


class StepTimer:
    """Wraps the functions the search page calls with wall-clock timers (module and class
    attributes, in this process only), undone by restore()."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.blob_keys: list[str] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, step: str, keep_key: bool = False) -> None:
        original = getattr(owner, name)
        spent = self.spent

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[step] += time.perf_counter() - started
                if keep_key:
                    self.blob_keys.append(str(args[1]))

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def install(self) -> None:
        self.wrap(sessions, "find", STEPS[0])
        self.wrap(TantivyEngine, "refresh", STEPS[1])
        self.wrap(TantivyEngine, "search", STEPS[2])
        self.wrap(LocalBlobStore, "get", STEPS[3], keep_key=True)
        self.wrap(index_search, "parse_message", STEPS[4])
        self.wrap(index_search, "snippet", STEPS[5])
        self.wrap(reading, "search", "search.search")
        self.wrap(Scope, "visible", STEPS[7])
        self.wrap(audit, "record", STEPS[8])
        self.wrap(pages, "render", STEPS[9])

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def reset(self) -> None:
        self.spent.clear()
        self.blob_keys.clear()

    def breakdown(self, total: float) -> dict[str, float]:
        """Milliseconds per step; the two remainders computed."""
        spent = {step: self.spent.get(step, 0.0) * 1000 for step in STEPS}
        inside = sum(spent[s] for s in STEPS[2:6])  # engine.refresh runs before search.search
        spent[STEPS[6]] = max(0.0, self.spent.get("search.search", 0.0) * 1000 - inside)
        spent[STEPS[10]] = max(0.0, total - sum(spent[s] for s in STEPS[:10]))
        return spent


class InProcess:
    """The app's state and route functions called directly (no HTTP, no server)."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.state = WebState(settings)
        self.app.state.web = self.state
        self.tokens: dict[str, str] = {}

    def sign_in(self, user: UserInfo) -> None:
        db = self.state.archive.db
        self.tokens[user.username] = sessions.start(
            db, user.user_id, "127.0.0.1", self.state.session_lifetime
        )

    def handle(self, username: str, query: WebQuery) -> Response:
        """What GET /search does after routing: the viewer dependency, then the route."""
        cookie = f"{SESSION_COOKIE}={self.tokens[username]}"
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/search",
            "raw_path": b"/search",
            "root_path": "",
            "query_string": urlencode(query.page_params()).encode(),
            "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie.encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 80),
            "app": self.app,
            "state": {},
        }
        request = Request(scope)
        who = viewer(request)
        return pages.search_page(
            request,
            who,
            q=query.q,
            after=query.after,
            before=query.before,
            direction="",
            owner="",
            attachment=query.attachment,
            sort=str(query.sort),
            page=query.page,
        )

    def scope_size(self, user: UserInfo) -> int:
        restricted = Scope.of(user).restrict(Everything())
        if restricted is None:
            return 0
        with self.state.search as engine:
            return engine.search(restricted, sort=Sort.RELEVANCE, offset=0, limit=1).total

    def close(self) -> None:
        self.state.close()


@dataclass
class Decomposed:
    role: str
    query: WebQuery
    total_ms: float
    steps: dict[str, float]
    blobs: int
    http_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "query": self.query.as_dict(),
            "http_ms": None if self.http_ms is None else round(self.http_ms, 1),
            "in_process_ms": round(self.total_ms, 1),
            "raw_messages_read": self.blobs,
            "steps_ms": {k: round(v, 2) for k, v in self.steps.items()},
        }


def decompose(inproc: InProcess, timer: StepTimer, role: str, query: WebQuery) -> Decomposed:
    timer.reset()
    started = time.perf_counter()
    response = inproc.handle(role, query)
    total = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"in-process {query.label()}: status {response.status_code}")
    return Decomposed(role, query, total, timer.breakdown(total), len(timer.blob_keys))


def evict(paths: list[Path]) -> None:
    """Drop these files (only) from the page cache, so their next read comes from the disk."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cprofile_text(inproc: InProcess, role: str, query: WebQuery, lines: int) -> tuple[float, str]:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(inproc.handle, role, query)
    total = (time.perf_counter() - started) * 1000
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(lines)
    stats.sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    cwd = str(Path.cwd()) + "/"
    return total, text.replace(cwd, "")


# ---------------------------------------------------------------------------------------------
# py-spy on the server process (when installed): the real request path, sampled.

_PYSPY_STEPS = (  # (function name, file ending) -> step; the innermost match decides
    ("find", "access/sessions.py", STEPS[0]),
    ("refresh", "index/tantivy_engine.py", STEPS[1]),
    ("search", "index/tantivy_engine.py", STEPS[2]),
    ("get", "archive/blobs.py", STEPS[3]),
    ("parse_message", "mime/parse.py", STEPS[4]),
    ("snippet", "index/search.py", STEPS[5]),
    ("search", "index/search.py", STEPS[6]),
    ("visible", "access/scope.py", STEPS[7]),
    ("record", "access/audit.py", STEPS[8]),
    ("render", "web/pages.py", STEPS[9]),
    ("search_page", "web/pages.py", STEPS[10]),
)
OUTSIDE = "outside the route (uvicorn, starlette, FastAPI)"


def pyspy_steps(raw: str) -> dict[str, int]:
    """Samples per step from py-spy's collapsed stacks ('frame;frame;... count')."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        step = OUTSIDE
        for frame in reversed(stack.split(";")):
            name, _, where = frame.partition(" (")
            name = name.strip().rsplit(".", 1)[-1]  # py-spy names methods Class.method
            path = where.split(":")[0]
            found = next((st for n, f, st in _PYSPY_STEPS if n == name and path.endswith(f)), None)
            if found is not None:
                step = found
                break
        counts[step] += int(number)
    return dict(counts)


def pyspy_record(
    pid: int, out: Path, replay: Callable[[], None]
) -> tuple[dict[str, int], str] | tuple[None, str]:
    binary = shutil.which("py-spy")
    if binary is None:
        return None, "py-spy is not installed"
    command = [binary, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--output", str(out)]
    command.append("--nonblocking")
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.5)  # attached
    try:
        replay()
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            _, err = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
    if not out.exists():
        return None, f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}"
    return pyspy_steps(out.read_text()), shlex.join(command)


# ---------------------------------------------------------------------------------------------
# Report.


def _mean_steps(items: list[Decomposed]) -> dict[str, float]:
    return {step: statistics.fmean(d.steps[step] for d in items) for step in STEPS} if items else {}


def print_steps(title: str, items: list[Decomposed]) -> None:
    if not items:
        return
    means = _mean_steps(items)
    total = statistics.fmean(d.total_ms for d in items)
    blobs = statistics.fmean(d.blobs for d in items)
    print(f"{title}: {len(items)} requests, mean {total:.1f} ms, {blobs:.1f} raw messages read a request")
    for step in STEPS:
        share = means[step] / total * 100 if total else 0.0
        print(f"  {step:<48}{means[step]:>9.1f} ms{share:>7.1f} %")


def report(r: dict[str, Any], series: dict[tuple[str, str], Series], queries: list[WebQuery]) -> None:
    print()
    print("mailvault web search benchmark (issue 6: the search page)")
    print(f"command:   {r['command']}")
    for key, value in r["context"].items():
        print(f"{key + ':':<10} {value}")
    loads = "; ".join(f"{name} {a:.2f} {b:.2f} {c:.2f}" for name, (a, b, c) in r["phases"])
    print(f"load:      1/5/15-minute load average at each phase: {loads}")
    mix = r["query_mix"]
    print(
        f"queries:   {mix['timed']} timed ({mix['from_file']} of {QUERIES.name}, "
        f"{mix['generated']} generated from bench/vocabulary.py; {mix['relevance']} by relevance, "
        f"{mix['page2']} asking for page 2, {mix['form_filters']} with filters set in the form), "
        f"after {mix['warm_up']} warm-up queries per user; {PER_PAGE} results a page; one request at a time"
    )
    for username, info in r["users"].items():
        print(f"user:      {username}: {info}")
    print()
    print(
        f"{'full HTTP round trip, ms':<40}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'mean':>8}"
        f"{'p95/300ms':>11}"
    )
    for (role, kind), s in series.items():
        summary = s.summary()
        label = f"{'GET /search (HTML)' if kind == 'page' else 'GET /api/search (JSON)'}, {role}"
        print(
            f"{label:<40}{summary['requests']:>5}{summary['p50_ms']:>8.1f}{summary['p95_ms']:>8.1f}"
            f"{summary['p99_ms']:>8.1f}{summary['max_ms']:>8.1f}{summary['mean_ms']:>8.1f}"
            f"{summary['p95_ms'] / TARGET_P95_MS:>10.2f}x"
        )
    for role in ROLES:
        diffs = [
            a.ms - b.ms
            for a, b in zip(series[(role, "page")].samples, series[(role, "api")].samples, strict=True)
        ]
        html_kb = statistics.fmean(s.size for s in series[(role, "page")].samples) / 1000
        print(
            f"page - API, {role}: mean {statistics.fmean(diffs):.1f} ms, "
            f"median {percentile(diffs, 50):.1f} ms (the template, and a larger response); "
            f"HTML {html_kb:.1f} kB a page on average"
        )
    for role in ROLES:
        api_samples = series[(role, "api")].samples
        totals = [s.total or 0 for s in api_samples]
        print(
            f"hits ({role}): median {percentile([float(t) for t in totals], 50):,.0f}, max {max(totals):,}; "
            f"no hits {sum(1 for t in totals if t == 0)}, query errors "
            f"{sum(1 for s in api_samples if s.query_error)}; pages with no results "
            f"{sum(1 for s in api_samples if not s.shown)}"
        )
    bad = [(k, s.status) for k, ser in series.items() for s in ser.samples if s.status != 200]
    print(f"non-200 answers: {len(bad)}" + (f" {Counter(bad).most_common(5)}" if bad else ""))
    print()
    print("slowest search pages (ms, hits):")
    rows = []
    for role in ROLES:
        page, api = series[(role, "page")], series[(role, "api")]
        rows += [
            (p.ms, a.ms, a.total, role, q) for p, a, q in zip(page.samples, api.samples, queries, strict=True)
        ]
    for page_ms, api_ms, total, role, query in sorted(rows, key=lambda x: -x[0])[:12]:
        print(f"  {page_ms:>7.1f} (API {api_ms:>7.1f}) {total or 0:>9,}  {role:<14}{query.label()}")

    print()
    print("targets")
    for role in ROLES:
        p95 = series[(role, "page")].summary()["p95_ms"]
        verdict = "PASS" if p95 < TARGET_P95_MS else "MISS"
        print(
            f"  search page p95 < {TARGET_P95_MS:.0f} ms, {role}: {p95:.1f} ms = "
            f"{p95 / TARGET_P95_MS:.2f}x the target   {verdict}"
        )


def _p(items: list[Decomposed], pct: float) -> float:
    return percentile([d.total_ms for d in items], pct)


def report_profile(p: Profile) -> None:
    print()
    print("where the time goes (in this process, server stopped: the route's functions with each step timed)")
    for role, items in p.all_steps.items():
        print_steps(
            f"every timed query, {role} (p50 {_p(items, 50):.0f} ms, p95 {_p(items, 95):.0f} ms)", items
        )
    print_steps("the slowest pages (by their HTTP time)", p.slow)
    for d in p.slow:
        top = sorted(d.steps.items(), key=lambda kv: -kv[1])[:4]
        parts = ", ".join(f"{k.split(' (')[0]} {v:.0f}" for k, v in top)
        http = f"HTTP {d.http_ms:.0f} ms, " if d.http_ms is not None else ""
        print(f"  {http}here {d.total_ms:.0f} ms: {parts}   {d.role} {d.query.label()}")
    if p.cold:
        c = p.cold
        print(
            f"raw messages from the disk: {c['role']} {c['query']} again, its {c['blobs']} raw messages "
            f"evicted from the page cache first: {c['total_ms']:.0f} ms, reading them {c['read_ms']:.0f} ms "
            f"(warm: {c['warm_total_ms']:.0f} ms, reading {c['warm_read_ms']:.1f} ms)"
        )
    spy = p.py_spy
    if spy.get("samples"):
        total = sum(spy["samples"].values())
        print()
        print(
            f"py-spy on the server process ({spy['requests']} requests of the slowest pages, "
            f"{total} samples of busy threads): {spy['note']}"
        )
        for step, count in sorted(spy["samples"].items(), key=lambda kv: -kv[1]):
            print(f"  {step:<48}{count:>7}{count / total * 100:>7.1f} %")
    elif spy:
        print(f"py-spy: {spy.get('note')}")
    for c in p.cprofiles:
        print()
        print(f"cProfile of {c['role']} {c['query']}: {c['ms']:.0f} ms under the profiler")
        print(c["text"])


@dataclass
class Profile:
    scope_sizes: dict[str, int] = field(default_factory=dict)
    all_steps: dict[str, list[Decomposed]] = field(default_factory=dict)
    slow: list[Decomposed] = field(default_factory=list)
    cold: dict[str, Any] | None = None
    cprofiles: list[dict[str, Any]] = field(default_factory=list)
    py_spy: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def means(items: list[Decomposed]) -> dict[str, float]:
            return {k: round(v, 2) for k, v in _mean_steps(items).items()}

        def spread(items: list[Decomposed]) -> dict[str, float]:
            return {"p50_ms": round(_p(items, 50), 1), "p95_ms": round(_p(items, 95), 1)}

        return {
            "scope_sizes": self.scope_sizes,
            "in_process": {role: spread(items) for role, items in self.all_steps.items()},
            "mean_steps_ms": {role: means(items) for role, items in self.all_steps.items()},
            "per_query_steps": {role: [d.as_dict() for d in items] for role, items in self.all_steps.items()},
            "slowest": [d.as_dict() for d in self.slow],
            "cold_raw_messages": self.cold,
            "py_spy": self.py_spy,
            "cprofile": self.cprofiles,
        }


def profile_in_process(
    args: argparse.Namespace,
    setup: Setup,
    settings: Settings,
    queries: list[WebQuery],
    slowest: list[tuple[str, WebQuery, float]],
    profile: Profile,
) -> None:
    inproc = InProcess(settings)
    timer = StepTimer()
    try:
        for role in ROLES:
            inproc.sign_in(setup.users[role])
            profile.scope_sizes[role] = inproc.scope_size(setup.users[role])
        timer.install()
        for role in ROLES:
            setup.phase(f"in process, steps timed: {len(queries)} queries as {role}")
            profile.all_steps[role] = [decompose(inproc, timer, role, query) for query in queries]
        setup.phase(f"in process: the {len(slowest)} slowest pages, steps timed")
        for role, query, http_ms in slowest:
            d = decompose(inproc, timer, role, query)  # warm, as in the HTTP pass
            d.http_ms = http_ms
            profile.slow.append(d)
        # The slowest admin page that read raw messages, with them on the disk and in memory.
        reading_pages = [d for d in profile.all_steps[ADMIN] if d.blobs]
        if reading_pages:
            chosen = max(reading_pages, key=lambda d: d.total_ms)
            warm = decompose(inproc, timer, ADMIN, chosen.query)
            paths = [inproc.state.archive.blobs.path_of(key) for key in timer.blob_keys]
            evict(paths)
            cold = decompose(inproc, timer, ADMIN, chosen.query)
            profile.cold = {
                "role": ADMIN,
                "query": chosen.query.label(),
                "blobs": len(paths),
                "total_ms": round(cold.total_ms, 1),
                "read_ms": round(cold.steps[STEPS[3]], 1),
                "warm_total_ms": round(warm.total_ms, 1),
                "warm_read_ms": round(warm.steps[STEPS[3]], 2),
            }
        timer.restore()
        setup.phase("in process: cProfile of the slowest page of each user")
        for role in ROLES:
            items = profile.all_steps.get(role)
            if not items:
                continue
            query = max(items, key=lambda d: d.total_ms).query
            inproc.handle(role, query)  # warm
            ms, text = cprofile_text(inproc, role, query, args.profile_lines)
            profile.cprofiles.append({"role": role, "query": query.label(), "ms": round(ms, 1), "text": text})
    finally:
        timer.restore()
        inproc.close()


# ---------------------------------------------------------------------------------------------
# The run.


def source_digest() -> str:
    """Which mailvault code ran (the tree may change between runs): a digest of its source files
    and templates, and the newest of them."""
    root = Path(mailvault.__file__).parent
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".html", ".json") and p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    newest = max(files, key=lambda p: p.stat().st_mtime)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(newest.stat().st_mtime))
    count = len(files)
    return (
        f"source digest {digest.hexdigest()[:12]} ({count} files; newest {newest.relative_to(root)}, {stamp})"
    )


def run(args: argparse.Namespace, setup: Setup, argv: list[str]) -> dict[str, Any]:
    queries, warm_up = build_queries(
        args.queries, args.count, args.warm_up, args.generated_share, args.page2_share, args.seed
    )
    code = source_digest()  # before the server imports it
    settings = setup.settings()
    check_schema(settings, setup.config)
    if settings.index.engine != "tantivy":
        sys.exit("bench: this benchmark is for the tantivy index of the 1,000,000-message archive")

    setup.phase("users")
    db = Database(settings.archive.resolved_database_url)
    try:
        ensure_users(setup, db, args.employee, args.domain)
        with db.reading() as session:
            messages = int(session.scalar(select(func.count()).select_from(Message)) or 0)
    finally:
        db.dispose()

    series: dict[tuple[str, str], Series] = {}
    spy: dict[str, Any] = {}
    setup.phase("starting the web server")
    with running_server(setup) as process:
        for role in ROLES:
            client = signed_in_client(setup, role)
            try:
                setup.phase(f"{role}: {len(warm_up)} warm-up, then {len(queries)} queries (page and API)")
                measured = measure(client, role, queries, warm_up)
                setup.phase(f"{role}: done")
            finally:
                client.close()
            for kind in KINDS:
                series[(role, kind)] = measured[kind]
        slowest = _slowest(series, queries, args.slow)
        if args.profile and args.py_spy and process.pid is not None:
            setup.phase(f"py-spy: the {len(slowest)} slowest pages, {args.py_spy_repeat} times each")
            clients = {role: signed_in_client(setup, role) for role in ROLES}

            def replay() -> None:
                for _ in range(args.py_spy_repeat):
                    for role, query, _ in slowest:
                        timed_get(clients[role], "page", query)

            try:
                samples, note = pyspy_record(process.pid, setup.workdir / "py-spy.txt", replay)
            finally:
                for client in clients.values():
                    client.close()
            spy = {"samples": samples, "note": note, "requests": len(slowest) * args.py_spy_repeat}
    setup.phase("web server stopped")

    profile = Profile(py_spy=spy)
    if args.profile:
        profile_in_process(args, setup, settings, queries, slowest, profile)
    setup.phase("done")

    context = machine() | {
        "mailvault": f"{mailvault_version(find_mailvault())}, package {Path(mailvault.__file__).parent}",
        "code": code if code == source_digest() else f"CHANGED DURING THE RUN: {code} -> {source_digest()}",
        "archive": (
            f"{messages:,} messages in {setup.data_dir} on {filesystem_of(setup.data_dir)} "
            f"(bench/mailgen.py, seed 42, and the later mail of bench/search.py's incremental phase)"
        ),
        "database": f"SQLite (the default), {settings.archive.resolved_database_url}",
        "engine": f"tantivy, {settings.resolved_index_dir}",
        "server": f"uvicorn via mailvault.web.worker.server_for, one process, http://127.0.0.1:{setup.port}",
        "config": f"{setup.config}: defaults except [index] engine and [web] secure_cookies = false",
    }
    manager = setup.users[MANAGER]
    user_lines = {
        ADMIN: "admin (everything)"
        + (f": {profile.scope_sizes[ADMIN]:,} messages in scope" if ADMIN in profile.scope_sizes else ""),
        MANAGER: "manager, grants "
        + ", ".join(f"{k} {v}" for k, v in manager.grants)
        + (f": {profile.scope_sizes[MANAGER]:,} messages in scope" if MANAGER in profile.scope_sizes else ""),
    }
    mix = {
        "timed": len(queries),
        "from_file": sum(1 for q in queries if q.origin == "file"),
        "generated": sum(1 for q in queries if q.origin == "generated"),
        "relevance": sum(1 for q in queries if q.sort is Sort.RELEVANCE),
        "page2": sum(1 for q in queries if q.page > 1),
        "form_filters": sum(1 for q in queries if q.after or q.before or q.attachment),
        "warm_up": len(warm_up),
    }
    result: dict[str, Any] = {
        "command": shlex.join(argv),
        "context": context,
        "phases": setup.phases,
        "query_mix": mix,
        "users": user_lines,
    }
    report(result, series, queries)
    if args.profile:
        report_profile(profile)

    latency = {f"{kind}_{role}": s.summary() for (role, kind), s in series.items()}
    result |= {
        "messages": messages,
        "targets": {
            role: {
                "target_p95_ms": TARGET_P95_MS,
                "page_p95_ms": series[(role, "page")].summary()["p95_ms"],
                "ratio": round(series[(role, "page")].summary()["p95_ms"] / TARGET_P95_MS, 3),
                "pass": series[(role, "page")].summary()["p95_ms"] < TARGET_P95_MS,
            }
            for role in ROLES
        },
        "latency": latency,
        "load_by_phase": {name: list(load) for name, load in setup.phases},
        "queries": [
            query.as_dict()
            | {
                f"{role}_{kind}_ms": round(series[(role, kind)].samples[i].ms, 2)
                for role in ROLES
                for kind in KINDS
            }
            | {f"{role}_hits": series[(role, "api")].samples[i].total for role in ROLES}
            | {f"{role}_shown": series[(role, "api")].samples[i].shown for role in ROLES}
            for i, query in enumerate(queries)
        ],
        "profile": profile.as_dict() if args.profile else None,
    }
    return result


def _slowest(
    series: dict[tuple[str, str], Series], queries: list[WebQuery], count: int
) -> list[tuple[str, WebQuery, float]]:
    """The `count` slowest pages of each user: (user, query, HTTP ms)."""
    rows: list[tuple[str, WebQuery, float]] = []
    for role in ROLES:
        mine = [(role, q, s.ms) for q, s in zip(queries, series[(role, "page")].samples, strict=True)]
        rows += sorted(mine, key=lambda row: -row[2])[:count]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="the archive (default: %(default)s)")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="query file (default: %(default)s)")
    parser.add_argument(
        "--count", type=int, default=200, help="timed queries per user (default: %(default)s)"
    )
    parser.add_argument(
        "--warm-up", type=int, default=20, help="untimed queries first (default: %(default)s)"
    )
    parser.add_argument(
        "--generated-share",
        type=float,
        default=0.25,
        help="share of generated queries (default: %(default)s)",
    )
    parser.add_argument(
        "--page2-share", type=float, default=0.15, help="share asking for page 2 (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=4, help="query mix seed (default: %(default)s)")
    parser.add_argument(
        "--employee", default=EMPLOYEE, help="the manager's employee grant (default: %(default)s)"
    )
    parser.add_argument(
        "--domain", default=CUSTOMER_DOMAIN, help="the manager's domain grant (default: %(default)s)"
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="timings only")
    parser.add_argument("--no-py-spy", dest="py_spy", action="store_false", help="no py-spy of the server")
    parser.add_argument(
        "--slow", type=int, default=4, help="slowest pages of each user to break down (default: %(default)s)"
    )
    parser.add_argument("--py-spy-repeat", type=int, default=5, help="replays of them under py-spy")
    parser.add_argument("--profile-lines", type=int, default=25, help="cProfile lines shown per ordering")
    parser.add_argument("--workdir", type=Path, help="where the config and py-spy output go (kept)")
    parser.add_argument("--json-out", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if not (args.data_dir / "mailvault.sqlite3").exists():
        parser.error(f"no archive in {args.data_dir} (mailvault.sqlite3 is missing)")

    leaked = sorted(k for k in os.environ if k.startswith("MAILVAULT_"))
    for key in leaked:  # our config file only (the server process inherits this environment)
        del os.environ[key]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="web-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="mailvault-web-bench-"))
    command = [Path(sys.executable).name, *sys.argv] if argv is None else ["web.py", *argv]
    try:
        print(
            f"bench: working in {workdir}" + (f"; ignoring {', '.join(leaked)}" if leaked else ""),
            file=sys.stderr,
        )
        setup = Setup(workdir, args.data_dir.resolve(), free_port())
        results = run(args, setup, command)
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
            print(f"\nresults written to {args.json_out}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\nwork dir kept: {workdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
