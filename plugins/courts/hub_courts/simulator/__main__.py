"""``python -m hub_courts.simulator [--port N] [--cases N]``: serve the simulated portal."""

from __future__ import annotations

import argparse
import asyncio

from hub_courts.simulator import PortalSimulator, Store


async def _main(port: int, cases: int) -> None:
    store = Store()
    store.seed(cases)
    sim = PortalSimulator(store)
    await sim.start(port)
    print(f"courts portal simulator at {sim.url} ({len(store.cases)} cases)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cases", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(_main(args.port, args.cases))


if __name__ == "__main__":
    main()
