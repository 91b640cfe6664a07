"""``python -m hub_invoices.simulator --port 8082 --messages 200``: the simulated ANAF alone."""

from __future__ import annotations

import argparse
import asyncio

from hub_invoices.simulator.server import EFacturaSimulator


async def _serve(port: int, count: int) -> None:
    sim = EFacturaSimulator()
    sim.generate(count)
    await sim.start(port=port)
    print(f"e-Factura simulator on {sim.url} (CUI {sim.cif}, {count} messages)")
    print(f"refresh token for HUB_INVOICES__REFRESH_TOKEN: {sim.issue_refresh_token()}")
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.messages))


if __name__ == "__main__":
    main()
