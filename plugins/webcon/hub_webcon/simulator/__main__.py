"""``python -m hub_webcon.simulator --port 8081``: the simulated WEBCON BPS on its own.

Prints the ``HUB_WEBCON__*`` settings that fit it, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from hub_webcon.simulator.server import WebconSimulator


def _env_lines(section: dict[str, object], prefix: str = "HUB_WEBCON") -> list[str]:
    lines = []
    for key, value in section.items():
        name = f"{prefix}__{key.upper()}"
        if isinstance(value, dict):
            lines.extend(_env_lines(value, name))
        else:
            lines.append(f"{name}={value}")
    return lines


async def _serve(args: argparse.Namespace) -> None:
    sim = WebconSimulator(
        token_ttl=args.token_ttl,
        search_index_delay=args.index_delay,
        validate_responses=not args.no_validate_responses,
    )
    sim.faults.latency_ms = args.latency_ms
    await sim.start(args.host, args.port)
    section = sim.settings()
    if args.json:
        print(json.dumps(section), flush=True)
    else:
        print(f"WEBCON BPS simulator listening on {sim.url}", flush=True)
        print("\n".join(_env_lines(section)), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub_webcon.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (0: a free one)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every API call")
    parser.add_argument("--token-ttl", type=int, default=3600, help="token lifetime, seconds")
    parser.add_argument("--index-delay", type=float, default=0.0, help="search index lag, s")
    parser.add_argument(
        "--no-validate-responses", action="store_true", help="skip checking own answers"
    )
    parser.add_argument("--json", action="store_true", help="print the settings as one JSON line")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            import uvloop  # the hub's own dependency: the simulator keeps up with a busy hub
        except ImportError:  # pragma: no cover - e.g. on Windows
            asyncio.run(_serve(args))
        else:
            uvloop.run(_serve(args))


if __name__ == "__main__":
    main()
