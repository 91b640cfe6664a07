"""A zeep client of the portal's SOAP service, built from the bundled WSDL.

:meth:`PortalClient.search_all` reads every case modified in a window. The portal truncates an
answer at about 1,000 cases without saying so, so an answer *at* the cap is taken as truncated:
the window is cut in halves and each half read again, recursively, down to
``min_window_seconds``. Answers are cleaned of characters XML forbids before zeep parses them
(:mod:`hub_courts.xmlclean`). Every failure — SOAP fault, HTTP error, timeout, unparseable
answer — is a :class:`~hub.errors.TransientError` with a message free of personal data: the
source fails this poll and reads the same window again on the next one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from hub.errors import TransientError
from hub.log import get_logger
from hub_courts.model import Case, case_from_soap
from hub_courts.wsdl import NS, WSDL_PATH
from hub_courts.xmlclean import clean_xml

__all__ = ["CleaningTransport", "PortalClient"]

log = get_logger("hub_courts.client")


class CleaningTransport(AsyncTransport):  # zeep is untyped
    """zeep's httpx transport, dropping illegal XML characters from every answer."""

    cleaned_total = 0

    def new_response(self, response: httpx.Response) -> Any:
        new = super().new_response(response)  # type: ignore[no-untyped-call]
        body, removed = clean_xml(new._content or b"")
        if removed:
            self.cleaned_total += removed
            log.warning("hub_courts.illegal_xml_characters", removed=removed)
            new._content = body
        return new


class PortalClient:
    def __init__(
        self,
        endpoint_url: str,
        *,
        timeout: float = 60.0,
        result_cap: int = 1000,
        min_window_seconds: float = 1.0,
        concurrency: int = 4,
    ) -> None:
        self.result_cap = result_cap
        self.min_window = timedelta(seconds=min_window_seconds)
        self.calls = 0
        self.splits = 0
        self._limit = asyncio.Semaphore(concurrency)
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        # The WSDL is a local file: this client is never used, but zeep wants one.
        self._wsdl_http = httpx.Client(timeout=timeout)
        self.transport = CleaningTransport(  # type: ignore[no-untyped-call]
            client=self._http, wsdl_client=self._wsdl_http
        )
        settings = zeep.Settings(strict=True, forbid_dtd=True, xml_huge_tree=False)
        self._zeep = zeep.AsyncClient(  # type: ignore[no-untyped-call]
            str(WSDL_PATH), transport=self.transport, settings=settings
        )
        binding = self._zeep.wsdl.bindings[f"{{{NS}}}QuerySoap"]
        # create_service() would give a synchronous proxy; the async one awaits the transport.
        self.service = AsyncServiceProxy(  # type: ignore[no-untyped-call]
            self._zeep, binding, address=endpoint_url
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        self._wsdl_http.close()

    async def _call(self, operation: str, **params: Any) -> Any:
        self.calls += 1
        async with self._limit:
            try:
                return await getattr(self.service, operation)(**params)
            except zeep.exceptions.Fault as exc:
                code = str(getattr(exc, "code", "") or "soap:Server")
                raise TransientError(f"courts portal: SOAP fault ({code}) in {operation}") from None
            except zeep.exceptions.TransportError as exc:
                raise TransientError(
                    f"courts portal: HTTP {exc.status_code} in {operation}",
                    status_code=exc.status_code,
                ) from None
            except httpx.TimeoutException:
                raise TransientError(f"courts portal: {operation} timed out") from None
            except httpx.HTTPError as exc:
                raise TransientError(
                    f"courts portal: {type(exc).__name__} in {operation}"
                ) from None
            except (zeep.exceptions.Error, etree.XMLSyntaxError, ValueError) as exc:
                raise TransientError(
                    f"courts portal: unreadable answer to {operation} ({type(exc).__name__})"
                ) from None

    async def search(
        self, court: str | None, party: str, start: datetime, stop: datetime
    ) -> list[Case]:
        """One ``CautareDosare2`` call: cases of ``party`` at ``court`` modified in the window."""
        result = await self._call(
            "CautareDosare2",
            numarDosar=None,
            obiectDosar=None,
            numeParte=party,
            institutie=court,
            dataStart=None,
            dataStop=None,
            dataUltimaModificareStart=start,
            dataUltimaModificareStop=stop,
        )
        items = getattr(result, "Dosar", None) if result is not None else None
        if items is None and isinstance(result, list):
            items = result
        return [case_from_soap(d) for d in (items or []) if d is not None]

    async def search_all(
        self, court: str | None, party: str, start: datetime, stop: datetime
    ) -> list[Case]:
        """Every case of the window, splitting it while answers reach the cap."""
        cases = await self.search(court, party, start, stop)
        if len(cases) < self.result_cap:
            return cases
        mid = (start + (stop - start) / 2).replace(microsecond=0)
        if stop - start <= self.min_window or not start < mid < stop:
            log.warning(
                "hub_courts.window_at_cap",
                court=court,
                start=start.isoformat(),
                stop=stop.isoformat(),
                results=len(cases),
            )
            return cases
        self.splits += 1
        left = await self.search_all(court, party, start, mid)
        right = await self.search_all(court, party, mid, stop)
        return left + right

    async def hello(self) -> str:
        """``HelloWorld``: a cheap reachability check for ``hub doctor``."""
        return str(await self._call("HelloWorld"))
