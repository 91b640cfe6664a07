# ruff: noqa: RUF001, RUF002 (the report is Markdown: the multiplication sign and dashes are meant)
"""The hub's benchmark: every scenario of docs/performance.md in ONE run, as ratios.

    uv run python bench/run.py                # full run (3 runs per scenario), ~10 minutes
    uv run python bench/run.py --quick        # smoke check, < 3 minutes
    uv run python bench/run.py --only sqlite,noop --runs 5
    uv run python bench/run.py --only sqlite,noop --profile bench/results/profile

Workload (PERFORMANCE.md): ~1 KB JSON documents, one HTTP POST each to a local sink
(bench/sink.py, its own process), at most 64 POSTs in flight, one worker process unless said.
Machines are noisy (±10–30 % between invocations), so the plain-client ceiling runs in the same
invocation and every hub row is read as a ratio to it; rounds are interleaved (run 1 of every
scenario of a group, then run 2, …) so that drift hits all rows alike.

Every run checks 0 lost and 0 duplicated: the sink's distinct ``webhook-id`` set equals the
ledger's delivered idempotency keys, no key arrived twice, and the ledger has exactly one attempt
per delivery. Results: a Markdown table on stdout and ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
WORKER = str(HERE / "worker.py")
PEERS = {"pgqueuer": str(HERE / "peer_pgqueuer.py"), "outbox": str(HERE / "peer_outbox.py")}
SINK = str(HERE / "sink.py")
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
OPEN_STATES = ("pending", "in_flight", "retry_scheduled", "waiting")

sys.path.insert(0, str(HERE))
from workload import WEBHOOK_SECRET  # noqa: E402


class BenchError(Exception):
    pass


# --- child processes -------------------------------------------------------------------------


class Child:
    """A role of bench/worker.py (or any command), spoken to with JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str, log: Path) -> None:
        self.proc = proc
        self.name = name
        self.log = log

    @classmethod
    async def spawn(cls, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Child:
        log = logdir / f"{name}.log"
        with open(log, "ab") as fh:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                cwd=str(logdir),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=fh,
                limit=2**20,
            )
        return cls(proc, name, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def event(self, name: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{self.name}: no {name!r} within {timeout:.0f} s")
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            except TimeoutError:
                raise BenchError(f"{self.name}: no {name!r} within {timeout:.0f} s") from None
            if not line:
                await self.proc.wait()
                raise BenchError(
                    f"{self.name} exited ({self.proc.returncode}) before {name!r}:\n{self.tail()}"
                )
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("event") == "error":
                raise BenchError(f"{self.name}: {msg.get('error')}\n{self.tail()}")
            if msg.get("event") == name:
                return dict(msg)

    def send(self, word: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.proc.stdin.write(word.encode() + b"\n")

    def alive(self) -> bool:
        return self.proc.returncode is None

    async def close(self, timeout: float = 20.0) -> None:
        if self.proc.returncode is not None:
            return
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM in MB, from /proc (for processes we did not write: ``hub run``)."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) / 1024.0
    return out


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU of a process split by where it went: its main thread (the event loop) and its other
    threads (the ledger's writer and readers, executors), and user against system time (an
    fsync is system time)."""
    out = {"main": 0.0, "threads": 0.0, "user": 0.0, "system": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            user, system = int(fields[11]) / tick, int(fields[12]) / tick
            out["main" if int(tid) == pid else "threads"] += user + system
            out["user"] += user
            out["system"] += system
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


# --- the sink --------------------------------------------------------------------------------


class Sink:
    def __init__(self, latency_ms: float, logdir: Path) -> None:
        self.latency_ms = latency_ms
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        log = open(self.logdir / f"sink-{self.latency_ms:g}ms.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [PY, SINK, "--port", "0", "--latency-ms", str(self.latency_ms)],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        assert self.proc.stdout is not None
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if not line.startswith(b"PORT "):
            raise BenchError(f"sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.http = aiohttp.ClientSession()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _get(self, path: str, method: str = "GET") -> bytes:
        assert self.http is not None
        async with self.http.request(method, f"http://127.0.0.1:{self.port}{path}") as r:
            return await r.read()

    async def reset(self) -> None:
        await self._get("/_reset", "POST")

    async def stats(self) -> dict[str, Any]:
        return dict(json.loads(await self._get("/_stats")))

    async def ids(self) -> set[str]:
        return {x for x in (await self._get("/_ids")).decode().split("\n") if x}

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --- ledgers: templates, fresh copies, probes ------------------------------------------------


class Probe:
    """The benchmark's own read-only look at a ledger (plain DB-API, no hub import)."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            path = url.removeprefix("sqlite:///")
            self.conn: Any = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            self.ph = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(
                url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
            self.ph = "%s"

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql.replace("?", self.ph), params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def any_open(self) -> bool:
        marks = ",".join("?" * len(OPEN_STATES))
        return bool(
            self._all(f"SELECT 1 FROM deliveries WHERE state IN ({marks}) LIMIT 1", OPEN_STATES)
        )

    def delivered(self) -> int:
        return int(self._all("SELECT count(*) FROM deliveries WHERE state = 'delivered'")[0][0])

    def states(self) -> dict[str, int]:
        return {
            s: int(c) for s, c in self._all("SELECT state, count(*) FROM deliveries GROUP BY state")
        }

    def attempts(self) -> int:
        return int(self._all("SELECT count(*) FROM attempts")[0][0])

    def delivered_keys(self) -> set[str]:
        return {
            r[0]
            for r in self._all("SELECT idempotency_key FROM deliveries WHERE state = 'delivered'")
        }

    def batches(self, since: float = 0.0) -> dict[str, dict[str, float]]:
        """Per audit action, how many transactions wrote it and how many rows each: every batch
        stamps its rows with one ``at``, so distinct ``at`` values count the commits."""
        out: dict[str, dict[str, float]] = {}
        for action, commits, rows in self._all(
            "SELECT action, count(DISTINCT at), count(*) FROM events WHERE at >= ? GROUP BY action",
            (since,),
        ):
            out[str(action)] = {
                "commits": int(commits),
                "rows_per_commit": round(rows / max(1, commits), 1),
            }
        return out

    def close(self) -> None:
        self.conn.close()


class Ledgers:
    """SQLite files or PostgreSQL databases: one pre-filled template per workload, a fresh copy
    per run (so every run starts from the same ledger and pre-filling is paid once)."""

    def __init__(self, kind: str, root: Path, logdir: Path) -> None:
        self.kind = kind
        self.root = root
        self.logdir = logdir
        self.templates: dict[str, str] = {}
        self.created: list[str] = []
        self.counter = 0
        self.tag = f"hub_bench_{os.getpid()}"

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(PG_ADMIN, autocommit=True)

    def _pg_url(self, name: str) -> str:
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        return f"{base}/{name}"

    def dsn(self, url: str) -> str:
        """A ledger URL as a peer takes it: a plain libpq DSN (asyncpg, psycopg) or a file."""
        if self.kind == "sqlite":
            return url.removeprefix("sqlite:///")
        return url.replace("postgresql+psycopg://", "postgresql://")

    async def template(
        self, key: str, n: int, connector: str, env: dict[str, str], *, peer: str = ""
    ) -> None:
        """Pre-fill ``n`` documents once: the hub's ledger, or a ``peer``'s queue (a key of
        :data:`PEERS`)."""
        if key in self.templates:
            return
        if self.kind == "sqlite":
            path = self.root / f"tpl-{key}" / "hub.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        else:
            name = f"{self.tag}_tpl_{key}"
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            url = self._pg_url(name)
        argv = [PY, WORKER, "prefill", "--n", str(n), "--connector", connector, "--run", key]
        if peer:
            argv = [PY, PEERS[peer], "prefill", "--dsn", self.dsn(url), "--n", str(n), "--run", key]
        child = await Child.spawn(
            f"prefill-{key}", argv, env | {"HUB_DATABASE_URL": url}, self.logdir
        )
        try:
            res = await child.event("result", 120 + n / 200)
        finally:
            await child.close()
        log(f"  pre-filled {n} documents for {key} in {res['seconds']:.1f} s")
        self.templates[key] = url

    def fresh(self, key: str) -> str:
        self.counter += 1
        tpl = self.templates[key]
        if self.kind == "sqlite":
            src = Path(tpl.removeprefix("sqlite:///"))
            dst = self.root / f"run-{self.counter}" / "hub.db"
            dst.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                if Path(str(src) + suffix).exists():
                    shutil.copyfile(str(src) + suffix, str(dst) + suffix)
            return f"sqlite:///{dst}"
        name = f"{self.tag}_run_{self.counter}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{tpl.rsplit("/", 1)[1]}"')
        self.created.append(name)
        return self._pg_url(name)

    def discard(self, url: str) -> None:
        if self.kind == "sqlite":
            shutil.rmtree(Path(url.removeprefix("sqlite:///")).parent, ignore_errors=True)
            return
        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ValueError):
            self.created.remove(name)

    def close(self) -> None:
        if self.kind == "postgresql" and self.created:
            with self._admin() as conn:
                for name in self.created:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created.clear()


# --- results ---------------------------------------------------------------------------------


@dataclass
class Run:
    docs_per_s: float | None = None
    cpu_ms_per_doc: float | None = None
    rss_mb: float | None = None
    lost: int | None = None
    duplicated: int | None = None
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def flag_loss(self) -> None:
        """Count what was lost or duplicated among the run's problems."""
        if self.lost:
            self.problems.append(f"{self.lost} lost")
        if self.duplicated:
            self.problems.append(f"{self.duplicated} duplicated")


@dataclass
class Baseline:
    """What an aged ledger already held before a run."""

    delivered: int = 0
    attempts: int = 0
    keys: set[str] = field(default_factory=set)


@dataclass
class Scenario:
    key: str
    label: str
    ledger: str
    latency_ms: float
    n: int
    workers: int
    runs: list[Run] = field(default_factory=list)
    ceiling: str | None = None  # key of the plain-client row this one is a ratio to

    def values(self, attr: str) -> list[float]:
        return [v for r in self.runs if (v := getattr(r, attr)) is not None]

    def extras(self, name: str) -> list[float]:
        return [r.extra[name] for r in self.runs if r.extra.get(name) is not None]


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def fmt_range(xs: list[float], digits: int = 0) -> str:
    if not xs:
        return "–"
    m = statistics.median(xs)
    if len(xs) == 1:
        return f"{m:,.{digits}f}"
    return f"{m:,.{digits}f} ({min(xs):,.{digits}f}–{max(xs):,.{digits}f})"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the benchmark ---------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="hub-bench-", dir=args.workdir))
        self.logdir = self.root / "logs"
        self.logdir.mkdir()
        self.scenarios: dict[str, Scenario] = {}
        self.sinks: dict[float, Sink] = {}
        self.sqlite = Ledgers("sqlite", self.root, self.logdir)
        self.pg: Ledgers | None = None
        self.peers: Ledgers | None = None
        self.peers_unavailable = False
        self.outboxes = Ledgers("sqlite", self.root, self.logdir)
        self.memory: dict[str, Any] = {}
        self.notes: list[str] = []

    # --- plumbing ---

    async def sink(self, latency_ms: float) -> Sink:
        if latency_ms not in self.sinks:
            s = Sink(latency_ms, self.logdir)
            await s.start()
            self.sinks[latency_ms] = s
        return self.sinks[latency_ms]

    def env(self, sink: Sink | None, transport: str = "aiohttp") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(
            HUB_LOAD_PLUGINS="webhook,noop",
            HUB_CONFIG_FILE=str(self.root / "absent-hub.toml"),
            HUB_DATA_DIR=str(self.root / "data"),
            HUB_LOG_FORMAT="json",
            HUB_WEBHOOK__CONCURRENCY="64",
            HUB_WEBHOOK__HTTP_TRANSPORT=transport,
            HUB_WEBHOOK__ENDPOINTS__BENCH__URL=sink.url if sink else "http://127.0.0.1:9/hook",
            HUB_WEBHOOK__ENDPOINTS__BENCH__SECRET=WEBHOOK_SECRET,
            HUB_NOOP__CONCURRENCY=str(self.args.noop_concurrency),
            HUB_SQLITE_SYNCHRONOUS=self.args.sqlite_synchronous,
            PYTHONUNBUFFERED="1",
            BENCH_LOOP=self.args.loop,
        )
        for item in self.args.hub_env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def scenario(
        self,
        key: str,
        label: str,
        ledger: str,
        latency_ms: float,
        n: int,
        workers: int = 1,
        ceiling: str | None = None,
    ) -> Scenario:
        if key not in self.scenarios:
            self.scenarios[key] = Scenario(
                key, label, ledger, latency_ms, n, workers, ceiling=ceiling
            )
        return self.scenarios[key]

    async def attempt(self, sc: Scenario, fn: Callable[[], Awaitable[Run]]) -> None:
        log(f"- {sc.label} (run {len(sc.runs) + 1})")
        busy0 = machine_busy()
        try:
            run = await fn()
        except BenchError as exc:
            run = Run(problems=[f"failed: {exc}"])
            log(f"  FAILED: {exc}")
        else:
            busy1 = machine_busy()
            # The whole machine's busy share during the run: ours plus anyone else's.
            run.extra["machine_busy_pct"] = round(
                100 * (busy1[0] - busy0[0]) / max(1e-9, busy1[1] - busy0[1]), 1
            )
            rate = f"{run.docs_per_s:,.0f} docs/s" if run.docs_per_s else "–"
            cpu = f", {run.cpu_ms_per_doc:.3f} ms CPU/doc" if run.cpu_ms_per_doc else ""
            if run.extra.get("batches"):
                cpu += ", commits " + ", ".join(
                    f"{a} {b['commits']}×{b['rows_per_commit']:g}"
                    for a, b in sorted(run.extra["batches"].items())
                )
            by = run.extra.get("cpu_ms_per_doc_by")
            if by:
                cpu += (
                    f" (main thread {by['main']:.3f}, other threads {by['threads']:.3f};"
                    f" system {by['system']:.3f})"
                )
            status = "ok" if not run.problems else "; ".join(run.problems)
            log(
                f"  {rate}{cpu}, RSS {run.rss_mb or 0:.0f} MB, machine busy "
                f"{run.extra['machine_busy_pct']:.0f} %, check: {status}"
            )
        sc.runs.append(run)

    async def verify(
        self,
        run: Run,
        n: int,
        probe: Probe,
        sink: Sink | None,
        *,
        since: float = 0.0,
        base: Baseline | None = None,
    ) -> None:
        """0 lost, 0 duplicated: the ledger and the sink agree, one attempt per delivery.
        ``base`` is what the ledger held before the run (an aged ledger), ``since`` its start."""
        base = base or Baseline()
        states = probe.states()
        delivered = states.get("delivered", 0) - base.delivered
        attempts = probe.attempts() - base.attempts
        other = {s: c for s, c in states.items() if s != "delivered"}
        if other:
            run.problems.append(f"ledger not drained: {other}")
        if attempts != delivered:
            run.problems.append(f"{attempts} attempts for {delivered} deliveries")
        run.extra["batches"] = probe.batches(since)
        run.lost = n - delivered
        run.duplicated = attempts - delivered if attempts > delivered else 0
        if sink is not None:
            st = await sink.stats()
            keys = probe.delivered_keys() - base.keys
            ids = await sink.ids()
            run.lost = max(run.lost, len(keys - ids), n - st["distinct"])
            run.duplicated = max(run.duplicated, st["duplicates"])
            if ids - keys:
                run.problems.append(
                    f"{len(ids - keys)} ids at the sink not delivered in the ledger"
                )
            run.extra["avg_body_bytes"] = st["avg_body_bytes"]
            run.extra["sink_cpu_us_per_request"] = st["cpu_us_per_request"]
        run.flag_loss()

    # --- scenario bodies ---

    async def plain_once(self, client: str, n: int, sink: Sink) -> Run:
        await sink.reset()
        child = await Child.spawn(
            f"plain-{client}",
            [
                PY,
                WORKER,
                "plain",
                "--client",
                client,
                "--n",
                str(n),
                "--url",
                sink.url,
                "--concurrency",
                "64",
                "--run",
                f"plain{time.time_ns()}",
            ],
            self.env(sink),
            self.logdir,
        )
        spy = None
        try:
            await child.event("ready", 60)
            if self.args.profile:
                spy = self.spy(child.pid, f"plain-{client}-{sink.latency_ms:g}ms")
            child.send("go")
            res = await child.event("result", 60 + n / 50)
        finally:
            await child.close()
            if spy is not None:
                await asyncio.to_thread(spy.wait, 60)
        st = await sink.stats()
        run = Run(
            docs_per_s=n / res["wall_s"],
            cpu_ms_per_doc=res["cpu_s"] * 1000 / n,
            rss_mb=res["maxrss_mb"],
            lost=n - st["distinct"],
            duplicated=st["duplicates"],
            extra={
                "avg_body_bytes": st["avg_body_bytes"],
                "sink_cpu_us_per_request": st["cpu_us_per_request"],
            },
        )
        if res["errors"]:
            run.problems.append(f"{res['errors']} requests failed")
        run.flag_loss()
        return run

    async def burn_down_once(
        self,
        ledgers: Ledgers,
        tpl: str,
        n: int,
        connector: str,
        sink: Sink | None,
        transport: str = "aiohttp",
        workers: int = 1,
        profile: str | None = None,
        rss_every: float = 0.0,
    ) -> Run:
        url = ledgers.fresh(tpl)
        children: list[Child] = []
        spies: list[subprocess.Popen[bytes]] = []
        probe: Probe | None = None
        try:
            if sink is not None:
                await sink.reset()
            env = self.env(sink, transport) | {"HUB_DATABASE_URL": url}
            for i in range(workers):
                children.append(
                    await Child.spawn(
                        f"hub-{connector}-{transport}-w{i + 1}",
                        [PY, WORKER, "hub", "--connector", connector],
                        env | {"HUB_WORKER_ID": f"bench-w{i + 1}"},
                        self.logdir,
                    )
                )
            for ch in children:
                await ch.event("ready", 90)
            if profile:
                spies = [self.spy(ch.pid, f"{profile}-w{i + 1}") for i, ch in enumerate(children)]
            probe = Probe(url)
            samples: list[dict[str, float]] = []
            since = time.time()
            t0 = time.perf_counter()
            for ch in children:
                ch.send("go")
            deadline = t0 + self.args.timeout_base + n / 100
            next_sample = t0
            while probe.any_open():
                now = time.perf_counter()
                if now > deadline:
                    raise BenchError(f"not drained after {now - t0:.0f} s: {probe.states()}")
                if not all(ch.alive() for ch in children):
                    raise BenchError("a worker exited:\n" + children[0].tail())
                if rss_every and now >= next_sample:
                    next_sample += rss_every
                    samples.append(
                        {
                            "t": round(now - t0, 2),
                            "delivered": probe.delivered(),
                            "rss_mb": sum(proc_status(ch.pid).get("VmRSS", 0) for ch in children),
                        }
                    )
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - t0
            for ch in children:
                ch.send("stop")
            results = [await ch.event("result", 60) for ch in children]
            run = Run(
                docs_per_s=n / elapsed,
                cpu_ms_per_doc=sum(r["cpu_s"] for r in results) * 1000 / n,
                rss_mb=max(r["maxrss_mb"] for r in results),
                extra={"elapsed_s": elapsed},
            )
            if samples:
                run.extra["rss_samples"] = samples
            await self.verify(run, n, probe, sink, since=since)
            return run
        finally:
            if probe is not None:
                probe.close()
            for ch in children:
                await ch.close()
            for spy in spies:
                await asyncio.to_thread(spy.wait, 60)
            ledgers.discard(url)

    def spy(self, pid: int, name: str) -> subprocess.Popen[bytes]:
        out = Path(self.args.profile) / f"{name}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--threads",
                "--nonblocking",
                "--output",
                str(out),
                *(["--gil"] if self.args.profile_gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.logdir / f"py-spy-{name}.log", "ab"),
        )

    # --- the peer queue (pgqueuer), measured in the same run ---

    def peer_queues(self) -> Ledgers | None:
        """pgqueuer's databases, or None (and a note saying why) when the peer cannot run."""
        if self.peers is not None or self.peers_unavailable:
            return self.peers
        import importlib.util

        missing = [m for m in ("pgqueuer", "asyncpg") if importlib.util.find_spec(m) is None]
        reason = f"{' and '.join(missing)} not installed (uv sync --group bench)" if missing else ""
        if not reason:
            try:
                import psycopg

                psycopg.connect(PG_ADMIN, connect_timeout=3).close()
            except Exception as exc:
                reason = f"{PG_ADMIN} unreachable ({type(exc).__name__})"
        if reason:
            self.peers_unavailable = True
            self.notes.append(f"peer rows (pgqueuer) NOT run: {reason}")
            log(self.notes[-1])
            return None
        self.peers = Ledgers("postgresql", self.root, self.logdir)
        self.peers.tag = f"hub_bench_{os.getpid()}_pgq"
        return self.peers

    async def peer_once(
        self,
        tpl: str,
        n: int,
        sink: Sink,
        *,
        client: str = "aiohttp",
        rate: float | None = None,
        peer: str = "pgqueuer",
    ) -> Run:
        """A peer delivering ``n`` documents to ``sink``: a burn-down of the pre-filled
        template ``tpl`` (``rate`` None), or (pgqueuer) end to end with a producer enqueuing one
        document at a time (``rate`` 0 = as fast as it can, with the hub's e2e concurrency)."""
        queues = self.peers if peer == "pgqueuer" else self.outboxes
        assert queues is not None
        url = queues.fresh(tpl)
        dsn = queues.dsn(url)
        script = PEERS[peer]
        children: list[Child] = []
        probe: Any = None
        try:
            await sink.reset()
            worker = await Child.spawn(
                f"{peer}-{client}",
                [PY, script, "worker", "--dsn", dsn, "--url", sink.url, "--client", client],
                self.env(sink),
                self.logdir,
            )
            children.append(worker)
            await worker.event("ready", 60)
            producer: Child | None = None
            if rate is not None:
                producer = await Child.spawn(
                    "pgqueuer-producer",
                    [
                        PY,
                        script,
                        "producer",
                        "--dsn",
                        dsn,
                        "--n",
                        str(n),
                        "--concurrency",
                        str(self.args.e2e_concurrency),
                        "--rate",
                        str(rate),
                        "--run",
                        f"pgq{time.time_ns()}",
                    ],
                    self.env(sink),
                    self.logdir,
                )
                children.append(producer)
                await producer.event("ready", 60)
            if peer == "pgqueuer":
                import psycopg

                probe = psycopg.connect(dsn, autocommit=True)
                backlog = "SELECT count(*) FROM pgqueuer"
            else:
                probe = sqlite3.connect(f"file:{dsn}?mode=ro", uri=True, isolation_level=None)
                backlog = f"SELECT count(*) FROM outbox WHERE state != {2}"
            t0_wall = time.time()
            for ch in children:
                ch.send("go")
            made = (
                await producer.event("result", self.args.timeout_base + n / 50) if producer else {}
            )
            deadline = time.perf_counter() + self.args.timeout_base + n / 100
            while True:
                st = await sink.stats()
                queued = probe.execute(backlog).fetchone()[0]
                if st["distinct"] >= n and not queued:
                    break
                if time.perf_counter() > deadline:
                    raise BenchError(f"{peer}: sink {st['distinct']}/{n}, {queued} still queued")
                if not worker.alive():
                    raise BenchError(f"the {peer} worker exited:\n" + worker.tail())
                await asyncio.sleep(0.005)
            worker.send("stop")
            res = await worker.event("result", 60)
            # Until the last document reached the sink (not until the peer recorded it done, for
            # pgqueuer up to 0.1 s later): the measure that favours the peer.
            elapsed = st["last_at"] - t0_wall
            run = Run(
                docs_per_s=n / elapsed,
                cpu_ms_per_doc=res["cpu_s"] * 1000 / n,
                rss_mb=res["maxrss_mb"],
                lost=n - st["distinct"],
                duplicated=st["duplicates"],
                extra={
                    "elapsed_s": elapsed,
                    "avg_body_bytes": st["avg_body_bytes"],
                    "sink_cpu_us_per_request": st["cpu_us_per_request"],
                },
            )
            if producer is not None:
                run.extra |= {
                    "accepted_per_s": (n - made["errors"]) / made["wall_s"],
                    "delivered_per_s": n / elapsed,
                    "request_ms": made["request_ms"],
                    "intake_to_sink_ms": st["latency_ms"],
                    "p50_ms": st["latency_ms"]["p50"],
                    "p99_ms": st["latency_ms"]["p99"],
                }
                if made["errors"]:
                    run.problems.append(f"{made['errors']} enqueues failed")
            if res["errors"]:
                run.problems.append(f"{res['errors']} POSTs failed")
            run.flag_loss()
            return run
        finally:
            if probe is not None:
                probe.close()
            for ch in children:
                await ch.close()
            queues.discard(url)

    async def peer_rows(
        self, todo: list[tuple[Scenario, Callable[[], Awaitable[Run]]]], latency_ms: float, n: int
    ) -> None:
        """The pgqueuer burn-down rows beside the hub's at this sink latency: with aiohttp (as
        PERFORMANCE.md ran it) and with httpx on httpx-aiohttp's transport (the hub's own:
        "given the same HTTP transport")."""
        sink = await self.sink(latency_ms)
        if latency_ms == 0:
            await self.outboxes.template(f"outbox-{n}", n, "", self.env(sink), peer="outbox")
            for client in ("aiohttp", "httpx-aiohttp"):
                via = "aiohttp" if client == "aiohttp" else "httpx on httpx-aiohttp's transport"
                c = self.scenario(
                    f"peer-outbox-{client}-0ms",
                    f"peer: naive SQLite outbox burn-down, {via}",
                    "SQLite",
                    0,
                    n,
                    ceiling="plain-aiohttp",
                )
                todo.append(
                    (
                        c,
                        functools.partial(
                            self.peer_once, f"outbox-{n}", n, sink, client=client, peer="outbox"
                        ),
                    )
                )
        queues = self.peer_queues()
        if queues is None:
            return
        await queues.template(f"burn-down-{n}", n, "", self.env(sink), peer="pgqueuer")
        ceiling = "plain-aiohttp" if latency_ms == 0 else f"plain-aiohttp-{latency_ms:g}ms"
        clients = ["aiohttp", "httpx-aiohttp"]
        for client in clients:
            via = "aiohttp" if client == "aiohttp" else "httpx on httpx-aiohttp's transport"
            c = self.scenario(
                f"peer-pgq-{client}-{latency_ms:g}ms",
                f"peer: pgqueuer burn-down, {via}",
                "PostgreSQL",
                latency_ms,
                n,
                ceiling=ceiling,
            )
            todo.append(
                (c, functools.partial(self.peer_once, f"burn-down-{n}", n, sink, client=client))
            )

    # --- groups ---

    async def group_sqlite(self) -> None:
        a = self.args
        sink = await self.sink(0)
        env = self.env(sink)
        todo: list[tuple[Scenario, Callable[[], Awaitable[Run]]]] = []
        want = a.only
        if {"ceiling", "sqlite", "peers"} & want:
            c = self.scenario(
                "plain-aiohttp", "plain aiohttp, 1 session × 64 (the ceiling)", "–", 0, a.n
            )
            todo.append((c, lambda: self.plain_once("aiohttp", a.n, sink)))
        if "ceiling" in want:
            c = self.scenario(
                "plain-httpx-aiohttp",
                "plain httpx on httpx-aiohttp's transport, 64 conn.",
                "–",
                0,
                a.n,
                ceiling="plain-aiohttp",
            )
            todo.append((c, lambda: self.plain_once("httpx-aiohttp", a.n, sink)))
            c = self.scenario(
                "plain-httpx",
                "plain httpx, 1 AsyncClient × 64 connections",
                "–",
                0,
                a.n_httpx,
                ceiling="plain-aiohttp",
            )
            todo.append((c, lambda: self.plain_once("httpx", a.n_httpx, sink)))
        if "sqlite" in want:
            await self.sqlite.template("webhook", a.n, "webhook", env)
            await self.sqlite.template("webhook-httpx", a.n_httpx, "webhook", env)
            c = self.scenario(
                "hub-sqlite-aiohttp",
                "hub burn-down, webhook, transport aiohttp",
                "SQLite",
                0,
                a.n,
                ceiling="plain-aiohttp",
            )
            todo.append(
                (
                    c,
                    lambda: self.burn_down_once(
                        self.sqlite,
                        "webhook",
                        a.n,
                        "webhook",
                        sink,
                        "aiohttp",
                        profile=self.profile_name("burn-down-aiohttp"),
                    ),
                )
            )
            c = self.scenario(
                "hub-sqlite-httpx",
                "hub burn-down, webhook, transport httpx",
                "SQLite",
                0,
                a.n_httpx,
                ceiling="plain-aiohttp",
            )
            todo.append(
                (
                    c,
                    lambda: self.burn_down_once(
                        self.sqlite,
                        "webhook-httpx",
                        a.n_httpx,
                        "webhook",
                        sink,
                        "httpx",
                        profile=self.profile_name("burn-down-httpx"),
                    ),
                )
            )
            await self.sqlite.template("webhook-raw", a.n, "webhook_raw", env)
            c = self.scenario(
                "hub-sqlite-raw",
                "what-if (bench only): hub burn-down, webhook connector on raw aiohttp",
                "SQLite",
                0,
                a.n,
                ceiling="plain-aiohttp",
            )
            todo.append(
                (
                    c,
                    lambda: self.burn_down_once(
                        self.sqlite,
                        "webhook-raw",
                        a.n,
                        "webhook_raw",
                        sink,
                        profile=self.profile_name("burn-down-raw-aiohttp"),
                    ),
                )
            )
        if "noop" in want:
            await self.sqlite.template("noop", a.n_noop, "noop", env)
            c = self.scenario(
                "hub-sqlite-noop", "hub dispatch-only, noop connector", "SQLite", 0, a.n_noop
            )
            todo.append(
                (
                    c,
                    lambda: self.burn_down_once(
                        self.sqlite,
                        "noop",
                        a.n_noop,
                        "noop",
                        None,
                        profile=self.profile_name("dispatch-only-noop"),
                    ),
                )
            )
        if "peers" in want:
            await self.peer_rows(todo, 0, a.n)
        await self.rounds(todo)

    def profile_name(self, name: str) -> str | None:
        return name if self.args.profile else None

    async def rounds(self, todo: list[tuple[Scenario, Callable[[], Awaitable[Run]]]]) -> None:
        for _ in range(self.args.runs):
            for sc, fn in todo:
                await self.attempt(sc, fn)

    def pg_ledgers(self, what: str) -> Ledgers | None:
        """The PostgreSQL ledgers every row on PostgreSQL shares (made once, with their
        templates), if the server answers; else None, and a note that ``what`` was not run."""
        try:
            import psycopg

            psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        except Exception as exc:
            self.notes.append(f"{what} NOT run: {PG_ADMIN} unreachable ({type(exc).__name__})")
            log(self.notes[-1])
            return None
        if self.pg is None:
            self.pg = Ledgers("postgresql", self.root, self.logdir)
        return self.pg

    async def group_pg(self) -> None:
        a = self.args
        pg = self.pg_ledgers("PostgreSQL scenarios")
        if pg is None:
            return
        sink0, sink20 = await self.sink(0), await self.sink(20)
        todo: list[tuple[Scenario, Callable[[], Awaitable[Run]]]] = []
        c = self.scenario(
            "plain-aiohttp-20ms", "plain aiohttp, 1 session × 64 (the ceiling)", "–", 20, a.n_pg
        )
        todo.append((c, lambda: self.plain_once("aiohttp", a.n_pg, sink20)))
        # What the hub's own transport allows at this latency: the hub's and the peers' rows on
        # httpx-aiohttp's transport read against it too.
        c = self.scenario(
            "plain-httpx-aiohttp-20ms",
            "plain httpx on httpx-aiohttp's transport, 64 conn.",
            "–",
            20,
            a.n_pg,
            ceiling="plain-aiohttp-20ms",
        )
        todo.append((c, lambda: self.plain_once("httpx-aiohttp", a.n_pg, sink20)))
        if "peers" in a.only:
            await self.peer_rows(todo, 20, a.n_pg)
        if "pg" not in a.only:
            await self.rounds(todo)
            return
        await pg.template("webhook", a.n_pg, "webhook", self.env(sink20))
        c = self.scenario(
            "hub-pg-0ms-1w",
            "hub burn-down, webhook, 1 worker",
            "PostgreSQL",
            0,
            a.n_pg,
            ceiling="plain-aiohttp",
        )
        todo.append(
            (
                c,
                lambda: self.burn_down_once(
                    pg, "webhook", a.n_pg, "webhook", sink0, profile=self.profile_name("pg-0ms-1w")
                ),
            )
        )
        for w in (1, 2):
            c = self.scenario(
                f"hub-pg-20ms-{w}w",
                f"hub burn-down, webhook, {w} worker{'s' * (w > 1)}",
                "PostgreSQL",
                20,
                a.n_pg,
                workers=w,
                ceiling="plain-aiohttp-20ms",
            )
            todo.append(
                (
                    c,
                    functools.partial(
                        self.burn_down_once,
                        pg,
                        "webhook",
                        a.n_pg,
                        "webhook",
                        sink20,
                        workers=w,
                        profile=self.profile_name(f"pg-20ms-{w}w"),
                    ),
                )
            )
        await self.rounds(todo)

    async def group_memory(self) -> None:
        a = self.args
        sink = await self.sink(0)
        await self.sqlite.template("memory", a.n_memory, "webhook", self.env(sink))
        sc = self.scenario(
            "hub-memory",
            f"hub burn-down of {a.n_memory:,}, webhook (memory)",
            "SQLite",
            0,
            a.n_memory,
            ceiling="plain-aiohttp",
        )
        await self.attempt(
            sc,
            lambda: self.burn_down_once(
                self.sqlite, "memory", a.n_memory, "webhook", sink, rss_every=1.0
            ),
        )
        samples = sc.runs[-1].extra.get("rss_samples") or []
        if samples:

            def at(frac: float) -> dict[str, float]:
                goal = frac * a.n_memory
                return next((s for s in samples if s["delivered"] >= goal), samples[-1])

            first, tenth, half, last = samples[0], at(0.1), at(0.5), samples[-1]
            peak = max(s["rss_mb"] for s in samples)
            growth = last["rss_mb"] - tenth["rss_mb"]
            self.memory = {
                "n": a.n_memory,
                "first": first,
                "at_10pct": tenth,
                "at_50pct": half,
                "last": last,
                "peak_sampled_mb": peak,
                "maxrss_mb": sc.runs[-1].rss_mb,
                "growth_after_10pct_mb": growth,
                "flat": growth <= max(5.0, 0.1 * tenth["rss_mb"]),
            }

    async def group_e2e(self) -> None:
        a = self.args
        cli = Path(PY).parent / "hub"
        missing = [p for p in ("hub/api/app.py", "hub/serve.py") if not (ROOT / p).exists()]
        if missing or not cli.exists():
            self.notes.append(f"end-to-end scenarios NOT run: missing {missing or [str(cli)]}")
            log(self.notes[-1])
            return
        sink = await self.sink(0)
        todo: list[tuple[Scenario, Callable[[], Awaitable[Run]]]] = []
        queues = self.peer_queues() if "peers" in a.only else None
        if queues is not None:
            await queues.template("empty", 0, "", self.env(sink), peer="pgqueuer")
            for key, rate in (("open", 0.0), ("paced", a.e2e_rate)):
                if key == "paced" and not rate:
                    continue
                how = f"{a.e2e_concurrency} in flight" if key == "open" else f"paced at {rate:g}/s"
                c = self.scenario(
                    f"e2e-pgq-{key}",
                    f"peer: pgqueuer e2e (aiohttp), producer {how}",
                    "PostgreSQL",
                    0,
                    a.n_e2e,
                    ceiling="plain-aiohttp",
                )
                todo.append(
                    (c, functools.partial(self.peer_once, "empty", a.n_e2e, sink, rate=rate))
                )
        if "e2e" not in a.only:
            await self.rounds(todo)
            return
        c = self.scenario(
            "e2e-open",
            f"hub run, e2e: producer, {a.e2e_concurrency} in flight",
            "SQLite",
            0,
            a.n_e2e,
            ceiling="plain-aiohttp",
        )
        todo.append((c, lambda: self.e2e_once(a.n_e2e, sink, 0.0)))
        if a.e2e_rate:
            c = self.scenario(
                "e2e-paced",
                f"hub run, e2e: producer paced at {a.e2e_rate:g}/s",
                "SQLite",
                0,
                a.n_e2e,
                ceiling="plain-aiohttp",
            )
            todo.append((c, lambda: self.e2e_once(a.n_e2e, sink, a.e2e_rate)))
        pg = self.pg_ledgers("end to end on PostgreSQL") if "pg" in a.only else None
        if pg is not None:
            # The hub's own intake and dispatch on the store pgqueuer uses: the same
            # comparison on one store, where the SQLite rows compare two systems.
            await pg.template("e2e-empty", 0, "webhook", self.env(sink))
            c = self.scenario(
                "e2e-pg-open",
                f"hub run, e2e: producer, {a.e2e_concurrency} in flight",
                "PostgreSQL",
                0,
                a.n_e2e,
                ceiling="plain-aiohttp",
            )
            todo.append((c, lambda: self.e2e_once(a.n_e2e, sink, 0.0, pg=pg)))
            # Several hub processes share PostgreSQL (docs/operations.md): the producer's
            # requests take turns between their two APIs.
            c = self.scenario(
                "e2e-pg-open-2p",
                f"hub run ×2, e2e: producer, {a.e2e_concurrency} in flight over both APIs",
                "PostgreSQL",
                0,
                a.n_e2e,
                workers=2,
                ceiling="plain-aiohttp",
            )
            todo.append((c, lambda: self.e2e_once(a.n_e2e, sink, 0.0, pg=pg, processes=2)))
        if a.e2e_aged:
            await self.aged_template(a.n_memory, sink)
            c = self.scenario(
                "e2e-aged",
                f"hub run, e2e: {a.e2e_concurrency} in flight, ledger already holding "
                f"{a.n_memory:,} documents",
                "SQLite",
                0,
                a.n_e2e,
                ceiling="plain-aiohttp",
            )
            todo.append((c, lambda: self.e2e_once(a.n_e2e, sink, 0.0, aged=True)))
        await self.rounds(todo)

    async def aged_template(self, n: int, sink: Sink) -> None:
        """A ledger that already holds ``n`` delivered documents, like one after months of use."""
        if "aged" in self.sqlite.templates:
            return
        # The memory scenario's ledger has the same documents, still pending: pre-fill once.
        await self.sqlite.template("memory", n, "webhook", self.env(sink))
        copy = self.sqlite.fresh("memory")
        self.sqlite.templates["aged"] = copy
        path = copy.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = 1, delivered_at = created_at"
            )
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    async def e2e_once(
        self,
        n: int,
        sink: Sink,
        rate: float,
        aged: bool = False,
        pg: Ledgers | None = None,
        processes: int = 1,
    ) -> Run:
        """One end-to-end run: ``processes`` ``hub run`` (each with its API and dispatcher;
        more than one only on PostgreSQL) and the producer, whose requests take turns among
        their APIs. CPU is theirs together; RSS the largest."""
        import socket

        if pg is not None:
            url = pg.fresh("e2e-empty")
            self.sqlite.counter += 1
            dbdir = self.root / f"e2e-pg-{self.sqlite.counter}"
            dbdir.mkdir()
        elif aged:
            url = self.sqlite.fresh("aged")
            dbdir = Path(url.removeprefix("sqlite:///")).parent
        else:
            self.sqlite.counter += 1
            dbdir = self.root / f"e2e-{self.sqlite.counter}"
            dbdir.mkdir()
            url = f"sqlite:///{dbdir / 'hub.db'}"
        ports = []
        for _ in range(processes):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
        routing = dbdir / "routing.toml"
        routing.write_text(
            '[fallback]\ndepartment = "REG"\n'
            'destinations = [{ connector = "webhook", target = "bench" }]\n'
        )
        env = self.env(sink) | {
            "HUB_DATABASE_URL": url,
            "HUB_API_HOST": "127.0.0.1",
            "HUB_ROUTING_FILE": str(routing),
        }
        cli = str(Path(PY).parent / "hub")
        up = await asyncio.create_subprocess_exec(
            cli,
            "db",
            "upgrade",
            env=env,
            cwd=str(dbdir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await up.communicate()
        if up.returncode:
            raise BenchError(f"hub db upgrade failed: {err.decode()[-800:]}")
        tok = await asyncio.create_subprocess_exec(
            cli,
            "token",
            "create",
            "--name",
            "bench",
            "--scope",
            "intake",
            env=env,
            cwd=str(dbdir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await tok.communicate()
        token = next((w for w in out.decode().split() if w.startswith("hub_")), None)
        if tok.returncode or token is None:
            raise BenchError(f"hub token create failed ({tok.returncode}): {err.decode()[-800:]}")
        await sink.reset()
        servers = [
            await Child.spawn(
                f"hub-run-{self.sqlite.counter}-{i}",
                [cli, "run"],
                env | {"HUB_API_PORT": str(port), "HUB_WORKER_ID": f"bench-{i}"},
                self.logdir,
            )
            for i, port in enumerate(ports)
        ]
        server = servers[0]
        producer: Child | None = None
        probe: Probe | None = None
        spy: subprocess.Popen[bytes] | None = None
        try:
            async with aiohttp.ClientSession() as http:
                for each, port in zip(servers, ports, strict=True):
                    deadline = time.monotonic() + 60
                    while True:
                        if not each.alive():
                            raise BenchError("hub run exited:\n" + each.tail())
                        with contextlib.suppress(aiohttp.ClientError):
                            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                                if r.status == 200:
                                    break
                        if time.monotonic() > deadline:
                            raise BenchError("hub run not healthy within 60 s:\n" + each.tail())
                        await asyncio.sleep(0.2)
            if self.args.profile:
                where = ("-pg" if pg is not None else "") + (
                    f"-{processes}p" if processes > 1 else ""
                )
                spy = self.spy(server.pid, f"e2e-hub-run-{'paced' if rate else 'open'}{where}")
            producer = await Child.spawn(
                "producer",
                [
                    PY,
                    WORKER,
                    "producer",
                    "--n",
                    str(n),
                    *(
                        arg
                        for port in ports
                        for arg in ("--url", f"http://127.0.0.1:{port}/api/v1/documents")
                    ),
                    "--concurrency",
                    str(self.args.e2e_concurrency),
                    "--rate",
                    str(rate),
                    "--run",
                    f"e2e{time.time_ns()}",
                ],
                self.env(sink) | {"BENCH_TOKEN": token},
                self.logdir,
            )
            await producer.event("ready", 60)
            base = Baseline()
            if aged:
                with contextlib.closing(Probe(url)) as before:
                    base = Baseline(before.delivered(), before.attempts(), before.delivered_keys())
            cpu0 = sum(proc_cpu_seconds(each.pid) for each in servers)
            split0 = thread_cpu_seconds(server.pid)
            t0_wall, t0 = time.time(), time.perf_counter()
            producer.send("go")
            res = await producer.event("result", self.args.timeout_base + n / 50)
            probe = Probe(url)
            deadline = time.perf_counter() + self.args.timeout_base + n / 100
            while True:
                st = await sink.stats()
                if st["distinct"] >= n and not probe.any_open():
                    break
                if time.perf_counter() > deadline:
                    raise BenchError(
                        f"not delivered in time: sink {st['distinct']}/{n}, {probe.states()}"
                    )
                await asyncio.sleep(0.02)
            cpu1 = sum(proc_cpu_seconds(each.pid) for each in servers)
            split1 = thread_cpu_seconds(server.pid)
            mem = max((proc_status(each.pid) for each in servers), key=lambda m: m.get("VmHWM", 0))
            accepted = int(res["statuses"].get("201", 0)) + int(res["statuses"].get("200", 0))
            run = Run(
                docs_per_s=n / (st["last_at"] - t0_wall),
                cpu_ms_per_doc=(cpu1 - cpu0) * 1000 / n,
                rss_mb=mem.get("VmHWM"),
                extra={
                    "accepted_per_s": accepted / res["wall_s"],
                    "delivered_per_s": n / (st["last_at"] - t0_wall),
                    "statuses": res["statuses"],
                    "request_ms": res["request_ms"],
                    "intake_to_sink_ms": st["latency_ms"],
                    "p50_ms": st["latency_ms"]["p50"],
                    "p99_ms": st["latency_ms"]["p99"],
                    "producer_wall_s": res["wall_s"],
                    "elapsed_s": time.perf_counter() - t0,
                    # The first process's (of two, half the documents each).
                    "cpu_ms_per_doc_by": {
                        k: (split1[k] - split0[k]) * 1000 * processes / n for k in split0
                    },
                },
            )
            if accepted != n:
                run.problems.append(f"{n - accepted} not accepted: {res['statuses']}")
            await self.verify(run, n, probe, sink, since=t0_wall, base=base)
            return run
        finally:
            if probe is not None:
                probe.close()
            if producer is not None:
                await producer.close()
            for each in servers:
                if each.alive():
                    each.proc.terminate()
            for each in servers:
                await each.close(30)
            if spy is not None:
                await asyncio.to_thread(spy.wait, 60)
            shutil.rmtree(dbdir, ignore_errors=True)
            if pg is not None:
                pg.discard(url)

    # --- report ---

    def ratio(self, sc: Scenario) -> str:
        if sc.ceiling is None or sc.ceiling not in self.scenarios:
            return "1.00×" if sc.key.startswith("plain-aiohttp") else "–"
        m, c = (
            median(sc.values("docs_per_s")),
            median(self.scenarios[sc.ceiling].values("docs_per_s")),
        )
        return f"{m / c:.2f}×" if m and c else "–"

    @staticmethod
    def check(sc: Scenario) -> str:
        if not sc.runs:
            return "–"
        problems = [p for r in sc.runs for p in r.problems]
        if problems:
            return "**" + "; ".join(sorted(set(problems)))[:200] + "**"
        lost = sum(r.lost or 0 for r in sc.runs)
        dup = sum(r.duplicated or 0 for r in sc.runs)
        return f"{lost} / {dup}"

    def table(self) -> str:
        rows: list[str] = []
        if any(not k.startswith("e2e") for k in self.scenarios):
            rows += [
                "| scenario | ledger | sink latency | docs/s median (min–max) | × plain aiohttp "
                "| worker CPU ms/doc | peak RSS MB | lost / dup |",
                "|---|---|---|---|---|---|---|---|",
            ]
        for sc in self.scenarios.values():
            if sc.key.startswith("e2e"):
                continue
            n = f" ({sc.n:,} docs)"
            rows.append(
                f"| {sc.label}{n} | {sc.ledger} | {sc.latency_ms:g} ms "
                f"| {fmt_range(sc.values('docs_per_s'))} | {self.ratio(sc)} "
                f"| {fmt_range(sc.values('cpu_ms_per_doc'), 3)} | {fmt_range(sc.values('rss_mb'))} "
                f"| {self.check(sc)} |"
            )
        e2e = [sc for sc in self.scenarios.values() if sc.key.startswith("e2e")]
        if e2e:
            rows += [
                "",
                "| end-to-end | ledger | accepted/s | delivered/s | × plain aiohttp "
                "| intake→sink p50 / p99 ms | intake p50 / p99 ms | worker CPU ms/doc "
                "| peak RSS MB | lost / dup |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for sc in e2e:
                req = [r.extra.get("request_ms") or {} for r in sc.runs]
                post50 = fmt_range([x["p50"] for x in req if x.get("p50")], 1)
                post99 = fmt_range([x["p99"] for x in req if x.get("p99")], 1)
                rows.append(
                    f"| {sc.label} ({sc.n:,} docs) | {sc.ledger} "
                    f"| {fmt_range(sc.extras('accepted_per_s'))} "
                    f"| {fmt_range(sc.extras('delivered_per_s'))} | {self.ratio(sc)} "
                    f"| {fmt_range(sc.extras('p50_ms'), 1)} / {fmt_range(sc.extras('p99_ms'), 1)} "
                    f"| {post50} / {post99} | {fmt_range(sc.values('cpu_ms_per_doc'), 3)} "
                    f"| {fmt_range(sc.values('rss_mb'))} | {self.check(sc)} |"
                )
        if self.memory:
            m = self.memory
            rss = {k: m[k]["rss_mb"] for k in ("first", "at_10pct", "at_50pct", "last")}
            rows += [
                "",
                f"Memory, {m['n']:,} deliveries through one worker: RSS {rss['first']:.0f} MB "
                f"after 1 s, {rss['at_10pct']:.0f} MB at 10 %, {rss['at_50pct']:.0f} MB at 50 %, "
                f"{rss['last']:.0f} MB at the end (peak sampled {m['peak_sampled_mb']:.0f} MB, "
                f"ru_maxrss {m['maxrss_mb'] or 0:.0f} MB): growth after 10 % "
                f"{m['growth_after_10pct_mb']:+.1f} MB → {'flat' if m['flat'] else 'NOT flat'}.",
            ]
        return "\n".join(rows)

    def goals(self) -> list[str]:
        s = self.scenarios
        out: list[str] = []

        def med(key: str, attr: str = "docs_per_s") -> float | None:
            return median(s[key].values(attr)) if key in s else None

        ceiling, hub = med("plain-aiohttp"), med("hub-sqlite-aiohttp")
        if ceiling and hub:
            out.append(
                f"burn-down ≥ 0.7× plain aiohttp: {hub / ceiling:.2f}× → "
                f"{'met' if hub >= 0.7 * ceiling else 'NOT met'}"
            )
        ax, hx = med("hub-sqlite-aiohttp"), med("hub-sqlite-httpx")
        if ax and hx:
            out.append(
                f"transport: aiohttp {ax:,.0f}/s vs httpx {hx:,.0f}/s ({ax / hx:.1f}×) → "
                f"default should be {'aiohttp' if ax >= hx else 'httpx'}"
            )
        raw = med("hub-sqlite-raw")
        if ceiling and raw:
            out.append(
                f"what-if, the webhook connector on raw aiohttp: {raw / ceiling:.2f}× plain "
                "aiohttp (what the dispatcher and ledger alone allow)"
            )
        noop = med("hub-sqlite-noop")
        if noop:
            out.append(
                f"dispatch-only ≥ 5,000/s on SQLite: {noop:,.0f}/s → "
                f"{'met' if noop >= 5000 else 'NOT met'}"
            )
        out += self.peer_goals(med)
        if "e2e-open" in s:
            e = median(s["e2e-open"].extras("delivered_per_s"))
            peer = (
                median(s["e2e-pgq-open"].extras("delivered_per_s")) if "e2e-pgq-open" in s else None
            )
            if e and peer:
                out.append(
                    f"e2e ≥ 1.5× pgqueuer's (this run, {peer:,.0f}/s): {e:,.0f}/s = "
                    f"{e / peer:.2f}× → {'met' if e >= 1.5 * peer else 'NOT met'}"
                )
            elif e:
                versus = f"; {e / ceiling:.2f}× our plain-aiohttp ceiling" if ceiling else ""
                out.append(
                    f"e2e ≥ 1.5× pgqueuer's ~1,050/s (PERFORMANCE.md's run, not this one: "
                    f"compare with care): {e:,.0f}/s = {e / 1050:.2f}× → "
                    f"{'met' if e >= 1575 else 'NOT met'}{versus}"
                )
        peer_e2e = (
            median(s["e2e-pgq-open"].extras("delivered_per_s")) if "e2e-pgq-open" in s else None
        )
        for key, who in (
            ("e2e-pg-open", "both on PostgreSQL"),
            ("e2e-pg-open-2p", "two hub processes on PostgreSQL"),
        ):
            e = median(s[key].extras("delivered_per_s")) if key in s else None
            if e and peer_e2e:
                out.append(
                    f"e2e ≥ 1.5× pgqueuer's, {who} ({peer_e2e:,.0f}/s): {e:,.0f}/s = "
                    f"{e / peer_e2e:.2f}× → {'met' if e >= 1.5 * peer_e2e else 'NOT met'}"
                )
        hub99 = median(s["e2e-paced"].extras("p99_ms")) if "e2e-paced" in s else None
        peer99 = median(s["e2e-pgq-paced"].extras("p99_ms")) if "e2e-pgq-paced" in s else None
        if hub99 and peer99:
            out.append(
                f"e2e p99 no worse than pgqueuer's at {self.args.e2e_rate:g}/s offered: "
                f"intake→sink {hub99:.1f} ms against {peer99:.1f} ms → "
                f"{'met' if hub99 <= peer99 else 'NOT met'}"
            )
        p1, p2 = med("hub-pg-20ms-1w"), med("hub-pg-20ms-2w")
        if p1 and p2:
            out.append(
                f"PostgreSQL 2 workers ≥ 1.6× one at 20 ms: {p2 / p1:.2f}× → "
                f"{'met' if p2 >= 1.6 * p1 else 'NOT met'}"
            )
        if self.memory:
            out.append(
                f"worker RSS flat over {self.memory['n']:,}: "
                f"{'met' if self.memory['flat'] else 'NOT met'}"
            )
        bad = [sc.label for sc in s.values() if any(r.problems for r in sc.runs)]
        out.append(
            "0 lost, 0 duplicated in every run: " + ("met" if not bad else f"NOT met ({bad})")
        )
        return out

    def peer_goals(self, med: Callable[[str], float | None]) -> list[str]:
        """The goal "ahead of every peer given the same HTTP transport": each hub burn-down row
        against the peers' in this run, on the same transport first, then on raw aiohttp."""
        out: list[str] = []
        pairs = [
            ("hub-sqlite-aiohttp", "peer-pgq-httpx-aiohttp-0ms", "0 ms, both on httpx-aiohttp"),
            ("hub-sqlite-aiohttp", "peer-pgq-aiohttp-0ms", "0 ms, pgqueuer on raw aiohttp"),
            ("hub-sqlite-aiohttp", "peer-outbox-httpx-aiohttp-0ms", "0 ms, same transport"),
            ("hub-sqlite-aiohttp", "peer-outbox-aiohttp-0ms", "0 ms, the outbox on raw aiohttp"),
            ("hub-pg-0ms-1w", "peer-pgq-httpx-aiohttp-0ms", "PostgreSQL, 0 ms, same transport"),
            (
                "hub-pg-20ms-1w",
                "peer-pgq-httpx-aiohttp-20ms",
                "PostgreSQL, 20 ms, 1 worker, same transport",
            ),
            (
                "hub-pg-20ms-1w",
                "peer-pgq-aiohttp-20ms",
                "PostgreSQL, 20 ms, 1 worker, pgqueuer on raw aiohttp",
            ),
            (
                "hub-pg-20ms-2w",
                "peer-pgq-aiohttp-20ms",
                "PostgreSQL, 20 ms, 2 workers, pgqueuer on raw aiohttp",
            ),
        ]
        for hub_key, peer_key, what in pairs:
            hub, peer = med(hub_key), med(peer_key)
            name = "the naive outbox" if "outbox" in peer_key else "pgqueuer"
            if hub and peer:
                out.append(
                    f"burn-down ahead of {name} ({what}): {hub:,.0f}/s against {peer:,.0f}/s "
                    f"= {hub / peer:.2f}× → {'met' if hub > peer else 'NOT met'}"
                )
        return out

    def machine(self) -> dict[str, Any]:
        model = ""
        with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), ""
            )
        pg: dict[str, Any] | None = None
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
                settings = ("server_version", "synchronous_commit", "fsync", "wal_sync_method")
                pg = {k: (conn.execute(f"SHOW {k}").fetchone() or ("?",))[0] for k in settings}
        import aiohttp as _aio
        import httpx

        return {
            "nproc": os.cpu_count(),
            "cpu": model,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgresql": pg,
            "loadavg_at_start": os.getloadavg(),
            "aiohttp": _aio.__version__,
            "httpx": httpx.__version__,
        }

    async def main(self) -> int:
        started = datetime.now(UTC)
        info = self.machine()
        log(f"hub benchmark: {info['nproc']} CPU, Python {info['python']}, work dir {self.root}")
        load1 = info["loadavg_at_start"][0]
        if load1 > 0.5 * (info["nproc"] or 1):
            self.notes.append(
                f"the machine was busy when the run started (load {load1:.1f} on "
                f"{info['nproc']} CPU): absolute numbers are noisy, read the ratios"
            )
            log("warning: " + self.notes[-1])
        try:
            order = [
                ("ceiling", self.group_sqlite),
                ("e2e", self.group_e2e),
                ("pg", self.group_pg),
                ("memory", self.group_memory),
            ]
            for name, fn in order:
                groups = {"ceiling": {"ceiling", "sqlite", "noop"}}.get(name, {name})
                if not ((groups | {"peers"}) & self.args.only) or (
                    name == "memory" and "memory" not in self.args.only
                ):
                    continue
                await fn()
        finally:
            for s in self.sinks.values():
                await s.stop()
            self.sqlite.close()
            if self.pg is not None:
                self.pg.close()
            if self.peers is not None:
                self.peers.close()
            self.outboxes.close()
        info["loadavg_at_end"] = os.getloadavg()
        table = self.table()
        goals = self.goals()
        print(
            f"\n## hub benchmark, {started:%Y-%m-%d %H:%M} UTC — {info['nproc']} CPU, "
            f"Python {info['python']}, PostgreSQL "
            f"{(info['postgresql'] or {}).get('server_version', '–')}\n"
        )
        print(table)
        print()
        for g in goals:
            print(f"- {g}")
        for note in self.notes:
            print(f"- {note}")
        out = HERE / "results" / f"{started:%Y%m%dT%H%M%SZ}.json"
        out.parent.mkdir(exist_ok=True)
        payload = {
            "started": started.isoformat(),
            "args": {
                k: (sorted(v) if isinstance(v, set) else v) for k, v in vars(self.args).items()
            },
            "machine": info,
            "scenarios": [asdict(s) for s in self.scenarios.values()],
            "memory": self.memory,
            "goals": goals,
            "notes": self.notes,
            "table": table,
        }
        out.write_text(json.dumps(payload, indent=1, default=str))
        log(f"\nresults: {out.relative_to(ROOT)}")
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            log(f"work dir kept: {self.root}")
        failed = any(r.problems for s in self.scenarios.values() for r in s.runs)
        return 1 if failed else 0


GROUPS = {"ceiling", "sqlite", "noop", "e2e", "pg", "memory", "peers"}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="The hub's benchmark (docs/performance.md).")
    ap.add_argument("--quick", action="store_true", help="1 run, small N: a smoke check (< 3 min)")
    ap.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3)")
    ap.add_argument(
        "--only",
        default=",".join(sorted(GROUPS)),
        help=f"comma-separated groups of {sorted(GROUPS)}",
    )
    ap.add_argument("--n", type=int, default=None, help="documents per burn-down (4,000)")
    ap.add_argument("--n-httpx", type=int, default=None, help="documents for httpx rows (4,000)")
    ap.add_argument("--n-noop", type=int, default=None, help="documents, dispatch-only (20,000)")
    ap.add_argument("--n-e2e", type=int, default=None, help="documents, end-to-end (4,000)")
    ap.add_argument("--n-pg", type=int, default=None, help="documents, PostgreSQL (4,000)")
    ap.add_argument("--n-memory", type=int, default=None, help="deliveries, memory (100,000)")
    ap.add_argument("--noop-concurrency", type=int, default=256)
    ap.add_argument("--e2e-concurrency", type=int, default=32)
    ap.add_argument(
        "--e2e-rate",
        type=float,
        default=1000.0,
        help="paced e2e row at this offered load (docs/s); 0 = skip",
    )
    ap.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="the hub's SQLite durability (FULL is the default and what we report)",
    )
    ap.add_argument(
        "--e2e-aged",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="an e2e row on a ledger already holding --n-memory documents "
        "(default: on, off with --quick)",
    )
    ap.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop of the benchmark's own processes (plain clients, hub workers, producer); "
        "`hub run` keeps its own",
    )
    ap.add_argument(
        "--timeout-base", type=float, default=60.0, help="seconds added to each run's limit"
    )
    ap.add_argument(
        "--hub-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra setting for every hub process (e.g. HUB_DISPATCHER__INTAKE_HANDOFF=false)",
    )
    ap.add_argument("--profile", default=None, help="py-spy the hub workers into this folder")
    ap.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (what the one core runs)",
    )
    ap.add_argument("--workdir", default=None, help="where ledgers live (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (ledgers, logs)")
    args = ap.parse_args(argv)
    quick = args.quick
    defaults = {
        "runs": 1 if quick else 3,
        "n": 2000 if quick else 4000,
        "n_httpx": 500 if quick else 4000,
        "n_noop": 5000 if quick else 20000,
        "n_e2e": 1500 if quick else 4000,
        "n_pg": 2000 if quick else 4000,
        "n_memory": 10000 if quick else 100_000,
        "e2e_aged": not quick,
    }
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.only = {g.strip() for g in args.only.split(",") if g.strip()}
    unknown = args.only - GROUPS
    if unknown:
        ap.error(f"unknown groups {sorted(unknown)}")
    return args


def main() -> None:
    args = parse()
    sys.exit(asyncio.run(Bench(args).main()))


if __name__ == "__main__":
    main()
