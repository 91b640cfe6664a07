"""The ``efactura`` source: received invoices from RO e-Factura become registered documents.

One poll:

1. messages the previous poll handed to intake and the ledger now holds become ``registered``;
2. the window ``[cursor - overlap, now)`` (never older than 60 days) is listed with
   ``listaMesajePaginatieFactura``, every page, for each filter (``P`` received invoices, ``E``
   error messages by default); each message is recorded once (``invoices_messages``);
3. messages not yet downloaded are downloaded — once: the ZIP is archived content-addressed
   (``invoices_archive``) in the same transaction that marks the message ``downloaded``, before
   it is parsed — then parsed: an invoice becomes ``ready``, a second copy of the same invoice
   (supplier CUI, number, issue date) a ``duplicate``, an "ERORI FACTURA" report ``anaf_error``,
   anything unreadable ``error`` with the reason; the poll goes on;
4. ready invoices are returned as documents (kind ``factura``, channel ``efactura``, sender the
   supplier, the ZIP and the XML attached); the host commits them with the new cursor.

A quota answer ("S-au facut deja …", or the local daily counter) pauses the source until the next
ANAF day; any other ``eroare`` or HTTP failure fails the poll (a visible source error), and
nothing already recorded is lost: steps 1-4 pick up where the last poll stopped.
"""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from hub.connectors import HealthCheck
from hub.errors import ConfigurationError
from hub.log import get_logger
from hub.models import AttachmentIn, Channel, DocumentIn, Sender
from hub.sources import PollResult, Source, SourceSettings
from hub_invoices.client import (
    EFacturaClient,
    MessageError,
    QuotaExceeded,
    anaf_day,
    seconds_to_next_day,
)
from hub_invoices.oauth import TokenManager, TokenStore, fernet
from hub_invoices.settings import InvoicesSettings
from hub_invoices.store import InvoiceStore, Outcome
from hub_invoices.ubl import (
    InvoiceData,
    InvoiceParseError,
    Unpacked,
    check_signature,
    parse_error_report,
    parse_invoice,
    supplier_from_detalii,
    unpack,
)

__all__ = ["EFacturaSource", "build_document", "route_department"]

log = get_logger("hub_invoices.source")
SOURCE = "efactura"
ERROR_TIP = "ERORI FACTURA"
#: Messages downloaded and written per transaction.
BATCH = 100


def route_department(settings: InvoicesSettings, data: InvoiceData) -> str | None:
    """The first route whose every condition matches (contract, order, supplier CUI)."""
    for r in settings.routes:
        if r.contract_prefix and not (data.contract_reference or "").startswith(r.contract_prefix):
            continue
        if r.order_prefix and not (data.order_reference or "").startswith(r.order_prefix):
            continue
        if r.supplier_cui and r.supplier_cui != data.supplier_cui:
            continue
        return r.department
    return None


def _received_at(data_creare: str | None, tz: str) -> datetime | None:
    try:
        local = datetime.strptime(data_creare or "", "%Y%m%d%H%M").replace(tzinfo=ZoneInfo(tz))
    except ValueError:
        return None
    return local.astimezone(UTC)


def build_document(
    settings: InvoicesSettings,
    row: dict[str, Any],
    data: InvoiceData,
    zip_bytes: bytes,
    xml: bytes,
    xml_name: str,
) -> DocumentIn:
    """The hub document for one invoice (subject and body in Romanian, for the registry)."""
    credit = data.document_type == "CreditNote"
    label = "Notă de credit" if credit else "Factură"
    subject = f"{label} {data.number} din {data.issue_date} — {data.supplier_name}"
    body_lines = [
        f"{label} primită prin RO e-Factura (mesaj ANAF {row['id']}, "
        f"index încărcare {row.get('id_solicitare') or '-'}).",
        f"Furnizor: {data.supplier_name}, CUI {data.supplier_cui}",
        f"Număr: {data.number}, data emiterii: {data.issue_date}, "
        f"scadență: {data.due_date or '-'}, tip: {data.type_code}",
        f"Total fără TVA: {data.total_without_vat} {data.currency}; "
        f"TVA: {data.vat_total} {data.currency}; total de plată: {data.payable} {data.currency}",
        f"IBAN beneficiar plată: {data.payee_iban or '-'}",
        f"Contract: {data.contract_reference or '-'}; comandă: {data.order_reference or '-'}",
        f"Linii: {data.line_count}",
    ]
    for line in data.lines[:20]:
        body_lines.append(f"  {line.id}. {line.name} — {line.quantity} {line.unit} = {line.amount}")
    metadata = {
        "efactura": {
            "message_id": row["id"],
            "upload_index": row.get("id_solicitare"),
            "message_created": row.get("data_creare"),
            "zip_sha256": row.get("zip_sha256"),
            **data.as_metadata(),
        }
    }
    return DocumentIn(
        source=SOURCE,
        external_id=row["id"],
        channel=Channel.EFACTURA,
        kind="factura",
        subject=subject[:1000],
        body="\n".join(body_lines)[:200_000],
        sender=Sender(type="pj", name=data.supplier_name[:300], cui=data.supplier_cui),
        received_at=_received_at(row.get("data_creare"), settings.timezone),
        department=route_department(settings, data),
        attachments=[
            AttachmentIn(
                filename=f"{row['id']}.zip",
                content_type="application/zip",
                content_base64=base64.b64encode(zip_bytes).decode(),
            ),
            AttachmentIn(
                filename=xml_name,
                content_type="application/xml",
                content_base64=base64.b64encode(xml).decode(),
            ),
        ],
        metadata=metadata,
    )


class EFacturaSource(Source):
    name = SOURCE
    settings_section = "invoices"
    settings_model: ClassVar[type[Any]] = InvoicesSettings
    description = "RO e-Factura: received invoices registered as documents (kind factura)"

    def __init__(
        self,
        settings: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Any = time.time,
    ) -> None:
        inv: InvoicesSettings = settings
        super().__init__(
            SourceSettings(
                enabled=inv.enabled and inv.configured, interval_seconds=inv.interval_seconds
            ),
            transport=transport,
        )
        self.invoices = inv
        self.clock = clock
        self._store: InvoiceStore | None = None
        self._client: EFacturaClient | None = None
        self.tokens: TokenManager | None = None
        self.last_error: str | None = None
        self.last_success: float | None = None
        #: Invoices parsed in this poll (message id → parsed, unpacked, ZIP): emitted without
        #: parsing again; a ready message from an earlier poll is parsed from the archive.
        self._parsed: dict[str, tuple[InvoiceData, Unpacked, bytes]] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.documents is None or not self.invoices.configured:
            return
        engine = self.documents.ledger.writer
        runner = self.documents.runner
        self._store = InvoiceStore(engine, clock=self.clock)
        self.tokens = TokenManager(
            self.invoices,
            TokenStore(engine, fernet(self.invoices), clock=self.clock),
            run=runner.write,
            transport=self.transport,
            clock=self.clock,
        )
        self._client = EFacturaClient(
            self.invoices, self.tokens, self._take_quota, transport=self.transport, clock=self.clock
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def store(self) -> InvoiceStore:
        if self._store is None:
            raise ConfigurationError(
                "e-Factura source not started (configure: "
                + ", ".join(self.invoices.missing())
                + ")"
            )
        return self._store

    @property
    def client(self) -> EFacturaClient:
        if self._client is None:
            raise ConfigurationError("e-Factura source not started")
        return self._client

    async def _write(self, fn: Any, *args: Any) -> Any:
        assert self.documents is not None
        return await self.documents.runner.write(fn, *args)

    async def _read(self, fn: Any, *args: Any) -> Any:
        assert self.documents is not None
        return await self.documents.runner.read(fn, *args)

    async def _take_quota(self, cif: str, day: str, kind: str, limit: int) -> int:
        result: int = await self._write(self.store.take_quota, cif, day, kind, limit)
        return result

    # --- the poll -----------------------------------------------------------------------------

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        cursor = dict(cursor or {})
        now = self.clock()
        await self._write(self.store.confirm_registered, SOURCE)
        pause: float | None = None
        paused_until = cursor.get("list_paused_until")
        if isinstance(paused_until, int | float) and paused_until > now:
            # A quota pause outlives a restart: the host polls again at start-up, ANAF must
            # not hear from us before its day is over.
            pause = float(paused_until) - now
        else:
            cursor.pop("list_paused_until", None)
            try:
                cursor["window_end_ms"] = await self._list(cursor.get("window_end_ms"), now)
            except QuotaExceeded as exc:
                pause = seconds_to_next_day(now, self.invoices.timezone)
                cursor["list_paused_until"] = now + pause
                self.last_error = str(exc)
                log.warning("hub_invoices.quota_reached", pause_seconds=round(pause))
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                raise
        try:
            await self._process(now)
        except QuotaExceeded as exc:  # 429 on downloads: too many calls this minute
            pause = max(pause or 0.0, 60.0)
            self.last_error = str(exc)
        documents = await self._emit()
        if pause is None:
            self.last_error = None
            self.last_success = self.clock()
        cursor["status"] = await self.status()
        return PollResult(documents=documents, cursor=cursor, pause_seconds=pause)

    async def _list(self, window_end_ms: Any, now: float) -> int:
        """List every page of the window for each filter; returns the window's end."""
        inv = self.invoices
        now_ms = int(now * 1000)
        end_ms = now_ms - 5_000  # never "in the future" for ANAF's clock
        oldest = now_ms - inv.window_days * 86_400_000 + 120_000
        start_ms = oldest
        if isinstance(window_end_ms, int):
            start_ms = max(window_end_ms - int(inv.overlap_seconds * 1000), oldest)
        if start_ms >= end_ms:
            return int(window_end_ms) if isinstance(window_end_ms, int) else end_ms
        for filtru in self._filters():
            page, pages = 1, 1
            while page <= pages:
                result = await self.client.list_page(start_ms, end_ms, page, filtru)
                wanted = [m for m in result.messages if _wanted(m.tip, filtru)]
                if wanted:
                    await self._write(self.store.record_listed, wanted)
                pages = result.total_pages
                page += 1
        return end_ms

    def _filters(self) -> list[str | None]:
        f = self.invoices.filter
        return ["P", "E"] if f == "P" else [f]

    async def _process(self, now: float) -> None:
        """Download and parse pending messages, in batches, up to ``max_messages_per_poll``."""
        day = anaf_day(now, self.invoices.timezone)
        budget = self.invoices.max_messages_per_poll
        limit = asyncio.Semaphore(self.invoices.download_concurrency)
        while budget > 0:
            rows = await self._read(self.store.pending, min(BATCH, budget), day)
            if not rows:
                return
            budget -= len(rows)
            to_fetch = [r for r in rows if r["state"] == "listed"]
            results = await asyncio.gather(
                *(self._download(r["id"], limit) for r in to_fetch), return_exceptions=True
            )
            downloaded: dict[str, bytes] = {}
            failed: dict[str, tuple[str, bool]] = {}
            broken: BaseException | None = None
            for res in results:
                if isinstance(res, BaseException):
                    broken = broken or res
                    continue
                mid, content, err = res
                if content is not None:
                    downloaded[mid] = content
                elif err is not None:
                    failed[mid] = err
            # What was downloaded is archived even when another download of the batch failed:
            # ANAF counts every download, the hub needs each message once.
            shas = await self._write(self.store.archive_downloads, day, downloaded, failed)
            if broken is not None:
                raise broken
            outcomes = []
            for r in rows:
                if r["id"] in failed:
                    continue
                content = downloaded.get(r["id"])
                if content is None:
                    content = await self._read(self.store.zip_content, r["zip_sha256"])
                if content is None:
                    outcomes.append(Outcome(r["id"], "error", "archived ZIP is missing"))
                    continue
                r["zip_sha256"] = shas.get(r["id"], r["zip_sha256"])
                outcomes.append(await asyncio.to_thread(self._parse, r, content))
            dups = await self._write(self.store.apply_outcomes, outcomes)
            for o in outcomes:
                if o.state == "error":
                    log.warning(
                        "hub_invoices.message_error", message_id=o.message_id, error=o.error
                    )
            if dups:
                log.info("hub_invoices.duplicates", count=len(dups))
            if len(rows) < BATCH and not failed:
                return

    async def _download(
        self, message_id: str, limit: asyncio.Semaphore
    ) -> tuple[str, bytes | None, tuple[str, bool] | None]:
        async with limit:
            try:
                return message_id, await self.client.download(message_id), None
            except MessageError as exc:
                text = str(exc)
                final = "S-au facut deja" not in text
                return message_id, None, (text, final)

    def _parse(self, row: dict[str, Any], content: bytes) -> Outcome:
        """Unpack and parse one archived ZIP; never raises for bad content."""
        mid = row["id"]
        try:
            unpacked = unpack(content, mid, self.invoices.parse)
            check_signature(unpacked.signature)
            if row["tip"] == ERROR_TIP:
                report = parse_error_report(unpacked.xml)
                text = "; ".join(report.errors) or "ANAF reported errors without details"
                return Outcome(mid, "anaf_error", f"ANAF: {text}")
            data = parse_invoice(unpacked.xml, self.invoices.parse)
            self._cross_check(row, data)
        except InvoiceParseError as exc:
            return Outcome(mid, "error", str(exc))
        self._parsed[mid] = (data, unpacked, content)
        return Outcome(
            mid,
            "ready",
            supplier_cui=data.supplier_cui,
            invoice_number=data.number,
            issue_date=data.issue_date,
        )

    def _cross_check(self, row: dict[str, Any], data: InvoiceData) -> None:
        inv = self.invoices
        if data.buyer_cui != inv.cif:
            raise InvoiceParseError("buyer CUI in the invoice is not this institution's CUI")
        if inv.cross_check_detalii:
            emitent = supplier_from_detalii(row.get("detalii"))
            if emitent is None:
                raise InvoiceParseError("message detalii has no cif_emitent to cross-check")
            if emitent.lstrip("0") != data.supplier_cui.lstrip("0"):
                raise InvoiceParseError(
                    "supplier CUI in the invoice differs from cif_emitent in the message"
                )

    async def _emit(self) -> list[DocumentIn]:
        rows = await self._read(self.store.ready, self.invoices.max_messages_per_poll)
        docs: list[DocumentIn] = []
        broken: list[Outcome] = []
        parsed, self._parsed = self._parsed, {}
        for row in rows:
            try:
                if row["id"] in parsed:
                    data, unpacked, content = parsed[row["id"]]
                else:
                    archived = await self._read(self.store.zip_content, row["zip_sha256"])
                    if archived is None:
                        raise InvoiceParseError("archived ZIP is missing")
                    content = archived
                    unpacked = unpack(content, row["id"], self.invoices.parse)
                    data = parse_invoice(unpacked.xml, self.invoices.parse)
                docs.append(
                    build_document(
                        self.invoices, row, data, content, unpacked.xml, unpacked.xml_name
                    )
                )
            except (InvoiceParseError, ValueError) as exc:
                broken.append(Outcome(row["id"], "error", str(exc)[:500]))
        if broken:
            await self._write(self.store.apply_outcomes, broken)
        await self._write(self.store.mark_emitted, [d.external_id for d in docs])
        return docs

    # --- operability --------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """Last successful poll, lag, items per day, quota used today, last error, backlog."""
        now = self.clock()
        tz = self.invoices.timezone
        day = anaf_day(now, tz)
        zone = ZoneInfo(tz)
        local = datetime.fromtimestamp(now, zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone).timestamp()
        counts = await self._read(self.store.counts, midnight)
        used = await self._read(self.store.quota_used, self.invoices.cif, day)
        oldest = counts["oldest_open_listed_at"]
        by_state = counts["by_state"]
        return {
            "last_success_at": self.last_success,
            "lag_seconds": round(now - oldest, 1) if oldest else 0.0,
            "registered_today": counts["since"].get("registered", 0),
            "errors_today": counts["since"].get("error", 0) + counts["since"].get("anaf_error", 0),
            "duplicates_today": counts["since"].get("duplicate", 0),
            "backlog": sum(by_state.get(s, 0) for s in ("listed", "downloaded", "ready")),
            "messages": by_state,
            "quota_used_today": {
                "paged": used.get("paged", 0),
                "paged_limit": self.invoices.limits.paged_list_per_day,
                "simple": used.get("simple", 0),
                "simple_limit": self.invoices.limits.simple_list_per_day,
            },
            "refresh_token_days_left": self._refresh_days_left(now),
            "last_error": self.last_error,
        }

    def _refresh_days_left(self, now: float) -> float | None:
        """Days until the refresh token expires (a new ``hub invoices login`` is due before)."""
        expiry = self.tokens.expiry() if self.tokens is not None else None
        return round((expiry[1] - now) / 86400, 1) if expiry else None

    async def health(self) -> list[HealthCheck]:
        """Tokens present and the refresh token not about to expire (for callers that ask the
        sources; ``hub doctor`` shows the plugin's configuration check)."""
        missing = self.invoices.missing()
        if missing:
            return [HealthCheck(name="e-Factura", ok=False, detail="set " + ", ".join(missing))]
        if self.tokens is None:
            return [HealthCheck(name="e-Factura", ok=False, detail="not started")]
        try:
            await self.tokens.access_token()
        except Exception as exc:
            return [HealthCheck(name="e-Factura tokens", ok=False, detail=str(exc)[:300])]
        expiry = self.tokens.expiry()
        detail = "tokens present"
        if expiry:
            days = (expiry[1] - self.clock()) / 86400
            detail = f"refresh token valid {days:.0f} more days"
            if days < 30:
                return [HealthCheck(name="e-Factura tokens", ok=False, detail=detail + ": login")]
        return [HealthCheck(name="e-Factura tokens", ok=True, detail=detail)]


def _wanted(tip: str, filtru: str | None) -> bool:
    """Only what the filter asked for: received invoices (P) or error messages (E)."""
    if filtru == "E":
        return tip == ERROR_TIP
    return tip.startswith("FACTURA PRIMITA")
