"""Run ledger calls from asyncio on dedicated threads.

Writes go through one thread: on SQLite that is the single writer the design asks for, and on
PostgreSQL it keeps the number of write transactions (and so fsyncs) low because callers batch.
Reads use a small pool of their own so an API read never queues behind a large write.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["DbRunner"]

P = ParamSpec("P")
R = TypeVar("R")


class DbRunner:
    def __init__(self, readers: int = 4) -> None:
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-db-write")
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="hub-db-read")

    async def write(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, functools.partial(fn, *args, **kwargs))

    async def read(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
