"""A fast HTTP sink on 127.0.0.1 for the benchmarks: counts what arrives, answers at once (or after
a fixed latency), and costs well under 0.1 ms CPU per request so that it is never the bottleneck.

It runs as its own process (``python bench/sink.py --port 0 [--latency-ms 20]``) and prints
``PORT <n>`` once listening. Raw ``asyncio.Protocol``, HTTP/1.1 keep-alive, Content-Length bodies
only (what httpx and aiohttp send for a bytes body).

What it counts, to prove 0 lost and 0 duplicated:

- every POST, and every distinct ``webhook-id`` header (a repeat is a duplicate delivery);
- when the body carries ``"bench_t0":<unix seconds>`` (the producer's send time, in the
  document's metadata), the latency from that moment to arrival here, in ms.

Control endpoints (not counted): ``GET /_stats`` (JSON), ``GET /_ids`` (the distinct ids, one a
line), ``POST /_reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys
import time

_RESP_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_RESP_OK_CLOSE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_T0 = b'"bench_t0":'


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.duplicates = 0
        self.without_id = 0
        self.body_bytes = 0
        self.ids: set[bytes] = set()
        self.latencies_ms: list[float] = []
        self.first_at: float | None = None
        self.last_at: float | None = None
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu0 = ru.ru_utime + ru.ru_stime

    def as_json(self) -> bytes:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        cpu = ru.ru_utime + ru.ru_stime - self.cpu0
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))]

        return json.dumps(
            {
                "requests": self.requests,
                "distinct": len(self.ids),
                "duplicates": self.duplicates,
                "without_id": self.without_id,
                "avg_body_bytes": self.body_bytes / self.requests if self.requests else 0,
                "first_at": self.first_at,
                "last_at": self.last_at,
                "cpu_us_per_request": cpu * 1e6 / self.requests if self.requests else None,
                "latency_ms": {
                    "count": len(lat),
                    "p50": pct(50),
                    "p90": pct(90),
                    "p99": pct(99),
                    "max": lat[-1] if lat else None,
                },
            }
        ).encode()


STATS = Stats()


def _header(lower_head: bytes, head: bytes, name: bytes) -> bytes | None:
    i = lower_head.find(b"\r\n" + name + b":")
    if i < 0:
        return None
    start = i + len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


class SinkProtocol(asyncio.Protocol):
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            i = buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = bytes(buf[:i])
            lower = head.lower()
            cl = _header(lower, head, b"content-length")
            n = int(cl) if cl else 0
            end = i + 4 + n
            if len(buf) < end:
                return
            body = bytes(buf[i + 4 : end])
            del buf[:end]
            self.handle(head, lower, body)

    def handle(self, head: bytes, lower: bytes, body: bytes) -> None:
        now = time.time()
        line_end = head.find(b"\r\n")
        request_line = head[: line_end if line_end >= 0 else len(head)]
        method, _, rest = request_line.partition(b" ")
        path = rest.partition(b" ")[0]
        if path.startswith(b"/_"):
            self.control(method, path)
            return
        st = STATS
        st.requests += 1
        st.body_bytes += len(body)
        if st.first_at is None:
            st.first_at = now
        st.last_at = now
        wid = _header(lower, head, b"webhook-id")
        if wid is None:
            st.without_id += 1
        elif wid in st.ids:
            st.duplicates += 1
        else:
            st.ids.add(wid)
        j = body.find(_T0)
        if j >= 0:
            k = j + len(_T0)
            stop = k
            while stop < len(body) and body[stop] in b"0123456789.eE+-":
                stop += 1
            with contextlib.suppress(ValueError):
                st.latencies_ms.append((now - float(body[k:stop])) * 1000.0)
        close = b"\r\nconnection: close" in lower
        resp = _RESP_OK_CLOSE if close else _RESP_OK
        if self.latency > 0:
            asyncio.get_running_loop().call_later(self.latency, self._send, resp, close)
        else:
            self._send(resp, close)

    def _send(self, resp: bytes, close: bool) -> None:
        t = self.transport
        if t is None:
            return
        t.write(resp)
        if close:
            t.close()

    def control(self, method: bytes, path: bytes) -> None:
        if path == b"/_stats":
            body = STATS.as_json()
            ctype = b"application/json"
        elif path == b"/_ids":
            body = b"\n".join(sorted(STATS.ids))
            ctype = b"text/plain"
        elif path == b"/_reset" and method == b"POST":
            STATS.reset()
            body = b"{}"
            ctype = b"application/json"
        else:
            body = b"not found"
            ctype = b"text/plain"
        status = b"404 Not Found" if body == b"not found" else b"200 OK"
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 "
            + status
            + b"\r\ncontent-type: "
            + ctype
            + b"\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )


async def serve(port: int, latency_ms: float) -> None:
    loop = asyncio.get_running_loop()
    latency = latency_ms / 1000.0
    server = await loop.create_server(
        lambda: SinkProtocol(latency), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {bound}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="fixed delay before answering")
    args = ap.parse_args()
    asyncio.run(serve(args.port, args.latency_ms))


if __name__ == "__main__":
    main()
