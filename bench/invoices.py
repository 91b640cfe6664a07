"""Benchmark of the e-Factura invoice robot (hub-invoices), not a test.

    uv run python bench/invoices.py                      # parse rate + 10,000-message backlog
    uv run python bench/invoices.py --messages 2000 --runs 3
    uv run python bench/invoices.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

1. **Parse rate**: CIUS-RO invoices from the simulator's generator, each taken the whole way a
   downloaded message goes (ZIP checks, seal check, safe XML parse, UBL fields, CUI/IBAN
   validation); the median of ``--runs`` runs, in invoices per second.
2. **Backlog drain**: the simulated ANAF (real HTTP on 127.0.0.1) holds ``--messages`` messages
   (invoices, some credit notes, some "ERORI FACTURA"); a real Hub with a fresh ledger polls the
   ``efactura`` source back to back (``poll_once``, as ``hub run`` does, without the interval)
   until nothing is left; every message downloaded once, archived, parsed, and each invoice
   committed as a document with its deliveries. Reports wall time and messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub_invoices.settings import ParseLimits  # noqa: E402
from hub_invoices.simulator import SUPPLIERS, EFacturaSimulator, make_zip  # noqa: E402
from hub_invoices.simulator.invoices import invoice_xml  # noqa: E402
from hub_invoices.source import EFacturaSource  # noqa: E402
from hub_invoices.ubl import check_signature, parse_invoice, unpack  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from hub.db.engine import make_engines  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.log import configure_logging  # noqa: E402
from hub.plugins import create_plugin_host  # noqa: E402
from hub.routing import RoutingRules  # noqa: E402
from hub.runtime import Hub  # noqa: E402
from hub.settings import load_settings  # noqa: E402


def parse_rate(count: int, runs: int) -> tuple[float, list[float]]:
    rng = random.Random(1)
    zips = []
    for i in range(count):
        xml = invoice_xml(
            SUPPLIERS[i % len(SUPPLIERS)],
            "14756536",
            f"B {i}",
            date(2026, 11, 1),
            rng,
            contract_ref="CTR-DE-1/2026",
        )
        zips.append((str(i), make_zip(str(i), xml)))
    limits = ParseLimits()
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for mid, content in zips:
            unpacked = unpack(content, mid, limits)
            check_signature(unpacked.signature)
            parse_invoice(unpacked.xml, limits)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


async def drain(
    messages: int, database_url: str | None, per_poll: int, anaf_limit: bool
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-invoices-"))
    url = database_url or f"sqlite:///{tmp / 'hub.db'}"
    writer, reader = make_engines(url)
    upgrade(writer)
    writer.dispose()
    reader.dispose()
    # Without --anaf-limit both sides lift the 1,000 calls/minute limit: what the hub itself
    # can do. With it, the drain is bounded by ANAF (≈ 1 download per 60 ms).
    per_minute = 950 if anaf_limit else 1_000_000
    sim = EFacturaSimulator(quotas={"per_minute": 1000 if anaf_limit else 1_000_000})
    sim.generate(messages, seed=11, spread_hours=24 * 20)
    await sim.start()
    host = create_plugin_host()
    settings = load_settings(
        host.settings_sections(),
        database_url=url,
        data_dir=tmp / "data",
        invoices=sim.settings(
            max_messages_per_poll=per_poll,
            download_concurrency=8,
            limits={"calls_per_minute": per_minute},
        ),
    )
    rules = RoutingRules.model_validate(
        {
            "rule": [
                {
                    "name": "invoices",
                    "kinds": ["factura"],
                    "department": "DE",
                    "destinations": [{"connector": "noop"}],
                }
            ],
            "fallback": {"destinations": [{"connector": "noop"}]},
        }
    )
    hub = Hub(settings, host, rules=rules, registry=CollectorRegistry())
    src = hub.sources["efactura"]
    assert isinstance(src, EFacturaSource)
    await src.start()
    polls = 0
    start = time.perf_counter()
    try:
        while True:
            await hub.source_runner.poll_once("efactura", src)
            polls += 1
            status = await src.status()
            if status["backlog"] == 0 or polls > 10 * (messages // per_poll + 2):
                break
        elapsed = time.perf_counter() - start
        documents = await hub.runner.read(hub.ledger.count_documents)
    finally:
        await hub.aclose()
        await sim.stop()
    return {
        "messages": messages,
        "documents": documents,
        "polls": polls,
        "seconds": elapsed,
        "per_second": messages / elapsed,
        "downloads": sum(n for (_, _, kind), n in sim.daily.items() if kind == "download"),
        "list_calls": sim.requests["paged"],
        "state": status["messages"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--parse-count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--per-poll", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--skip-drain", action="store_true")
    parser.add_argument(
        "--anaf-limit", action="store_true", help="Keep ANAF's 1,000 calls/minute on both sides"
    )
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    median, rates = parse_rate(args.parse_count, args.runs)
    print(
        f"parse: {median:,.0f} invoices/s (median of {args.runs} runs of {args.parse_count}: "
        + ", ".join(f"{r:,.0f}" for r in rates)
        + ")"
    )
    if args.skip_drain:
        return
    result = asyncio.run(drain(args.messages, args.database_url, args.per_poll, args.anaf_limit))
    print(
        f"backlog: {result['messages']:,} messages drained in {result['seconds']:.1f} s "
        f"({result['per_second']:,.0f} messages/s) in {result['polls']} polls; "
        f"{result['documents']:,} documents; {result['downloads']:,} downloads; "
        f"{result['list_calls']} list calls; states {result['state']}"
    )


if __name__ == "__main__":
    main()
