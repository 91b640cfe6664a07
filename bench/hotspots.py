"""Summarise a py-spy ``--format raw`` profile: where the worker's CPU goes.

    uv run python bench/hotspots.py bench/results/profile/burn-down-aiohttp-w1.txt [--top 25]

Prints, as shares of all (non-idle) samples: CPU per thread, per activity (API, connector,
claim, outcomes, intake commit…), per library (hub, sqlalchemy,
httpx, aiohttp, asyncio, pydantic, …), the functions with the most *self* time, and the hub
functions with the most *inclusive* time (what the hub's own code costs, callees included).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

LIBRARIES = [
    ("hub/", "hub"),
    ("sqlalchemy", "sqlalchemy"),
    ("httpx_aiohttp", "httpx-aiohttp"),
    ("httpx", "httpx"),
    ("httpcore", "httpcore"),
    ("aiohttp", "aiohttp"),
    ("yarl", "yarl"),
    ("multidict", "multidict"),
    ("pydantic", "pydantic"),
    ("prometheus_client", "prometheus"),
    ("structlog", "structlog"),
    ("sqlite3", "sqlite3"),
    ("psycopg", "psycopg"),
    ("asyncio", "asyncio"),
    ("concurrent/futures", "threads"),
    ("threading", "threads"),
    ("uvicorn", "uvicorn"),
    ("starlette", "starlette"),
    ("fastapi", "fastapi"),
]


def library(path: str) -> str:
    for needle, name in LIBRARIES:
        if needle in path:
            return name
    if "/lib/python3" in path and "site-packages" not in path:
        return "stdlib"
    return "other"


def short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def activity(thread: str, stack: str) -> str:
    """What the process was doing, in the hub's own terms (one bucket per sample)."""
    if "MainThread" not in thread:
        for needle, name in (
            ("insert_documents", "db thread: intake commit (insert_documents)"),
            ("Ledger.claim", "db thread: claim"),
            ("record_outcomes", "db thread: record outcomes"),
            ("verify_token", "db read: verify token"),
        ):
            if needle in stack:
                return name
        return "other threads"
    if any(w in stack for w in ("httptools_impl", "h11_impl", "starlette", "fastapi")):
        if "IntakeService.prepare" in stack:
            return "main: API request → intake.prepare"
        return "main: API request (uvicorn/starlette/fastapi, auth, parse, respond)"
    if re.search(r"\w\.deliver \(", stack):
        return "main: connector.deliver (webhook: payload, sign, HTTP client)"
    for needle, name in (
        ("Dispatcher", "main: dispatcher (lanes, attempts, outcomes)"),
        ("IntakeService", "main: intake group commit"),
        ("EpollSelector.select", "main: epoll"),
        ("aiohttp", "main: aiohttp callbacks (responses, connections)"),
    ):
        if needle in stack:
            return name
    return "main: other event-loop work"


def parse(path: Path) -> tuple[list[tuple[str, list[tuple[str, str]], int, str]], int]:
    stacks = []
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        head, _, count = raw.rpartition(" ")
        if not head or not count.isdigit():
            continue
        parts = head.split(";")
        thread = parts[0] if parts and parts[0].startswith(("thread", "process")) else ""
        frames: list[tuple[str, str]] = []
        for p in parts[1:] if thread else parts:
            m = _FRAME.match(p)
            if m:
                frames.append((m["func"], m["file"]))
        if not frames:
            continue
        n = int(count)
        total += n
        stacks.append((thread, frames, n, head))
    return stacks, total


def summarise(path: Path, top: int) -> str:
    stacks, total = parse(path)
    if not total:
        return f"{path}: no samples"
    threads: Counter[str] = Counter()
    libs: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    hub_incl: Counter[str] = Counter()
    lib_incl: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for thread, frames, n, head in stacks:
        name = re.sub(r"^thread \(\d+\): ", "", thread) or "?"
        threads[name] += n
        activities[activity(thread, head)] += n
        func, file = frames[-1]
        libs[library(file)] += n
        self_time[f"{short(file)}:{func}"] += n
        seen: set[str] = set()
        seen_lib: set[str] = set()
        for f, fl in frames:
            lib = library(fl)
            if lib not in seen_lib:
                seen_lib.add(lib)
                lib_incl[lib] += n
            if lib == "hub":
                key = f"{short(fl)}:{f}"
                if key not in seen:
                    seen.add(key)
                    hub_incl[key] += n

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f} %"

    out = [f"{path.name}: {total} samples"]
    out.append(
        "  by thread: " + ", ".join(f"{t} {pct(n).strip()}" for t, n in threads.most_common(6))
    )
    out.append("  by activity:")
    out += [f"    {pct(n)}  {k}" for k, n in activities.most_common()]
    out.append(
        "  self time by library: "
        + ", ".join(f"{lib} {pct(n).strip()}" for lib, n in libs.most_common(12))
    )
    out.append(
        "  inclusive by library: "
        + ", ".join(f"{lib} {pct(n).strip()}" for lib, n in lib_incl.most_common(12))
    )
    out.append("  top self time:")
    out += [f"    {pct(n)}  {k}" for k, n in self_time.most_common(top)]
    out.append("  hub functions, inclusive:")
    out += [f"    {pct(n)}  {k}" for k, n in hub_incl.most_common(top)]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    for f in args.files:
        print(summarise(f, args.top))
        print()


if __name__ == "__main__":
    main()
