"""Intake: attachment limits (413/415/422), identifiers validated without echoing them,
classification, the fallback kind, anonymous petitions, and the group commit."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import ValidationError
from stdnum.ro import cnp as ro_cnp

import hub.builtin.noop
from hub.db.ledger import IntakeResult, PreparedDocument
from hub.errors import (
    InputError,
    InvalidDocument,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from hub.hookspecs import hookimpl
from hub.models import DocumentIn
from hub.runtime import Hub
from tests.fixtures import MakeHub

RULES = {"fallback": {"destinations": [{"connector": "noop"}]}}


def hub_with(make_hub: MakeHub, *plugins: object, **overrides: Any) -> Hub:
    return make_hub(
        entry_points=False,
        plugins=(hub.builtin.noop, *plugins),
        rules=RULES,
        overrides=overrides,
    )


def attachment(content: bytes, content_type: str = "application/pdf") -> dict[str, str]:
    return {
        "filename": "scan.pdf",
        "content_type": content_type,
        "content_base64": base64.b64encode(content).decode(),
    }


def valid_cnp() -> str:
    head = "196010135901"
    return head + str(ro_cnp.calc_check_digit(head))


# --- attachments ------------------------------------------------------------------------------


async def test_unsupported_media_type_is_415(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    doc = DocumentIn(
        external_id="a-1",
        attachments=[attachment(b"%PDF"), attachment(b"MZ", "application/x-msdownload")],
    )
    with pytest.raises(UnsupportedMediaType) as info:
        h.intake.prepare(doc)
    assert isinstance(info.value, InputError)
    assert info.value.status == 415
    assert info.value.errors[0]["loc"] == ["attachments", 1, "content_type"]
    assert "application/x-msdownload" in info.value.message


async def test_media_type_parameters_and_case_are_ignored(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    doc = DocumentIn(
        external_id="a-2", attachments=[attachment(b"text", "Text/Plain; charset=utf-8")]
    )
    item = h.intake.prepare(doc)
    assert item.attachments[0].content_type == "text/plain"


async def test_attachment_too_large_is_413(make_hub: MakeHub) -> None:
    h = hub_with(make_hub, max_attachment_bytes=100)
    ok = DocumentIn(external_id="a-3", attachments=[attachment(b"x" * 100)])
    assert len(h.intake.prepare(ok).attachments[0].content) == 100
    for size in (101, 10_000):  # just over (after decoding) and far over (before decoding)
        doc = DocumentIn(external_id="a-4", attachments=[attachment(b"x" * size)])
        with pytest.raises(PayloadTooLarge) as info:
            h.intake.prepare(doc)
        assert info.value.status == 413
        assert info.value.errors == [{"loc": ["attachments", 0], "msg": "too large"}]


async def test_bad_base64_is_422(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    doc = DocumentIn(
        external_id="a-5",
        attachments=[
            {"filename": "a.pdf", "content_type": "application/pdf", "content_base64": "%%%"}
        ],
    )
    with pytest.raises(InvalidDocument) as info:
        h.intake.prepare(doc)
    assert info.value.status == 422
    assert info.value.errors[0]["loc"] == ["attachments", 0, "content_base64"]


async def test_attachments_are_stored_by_content(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    item = h.intake.prepare(
        DocumentIn(external_id="a-6", attachments=[attachment(b"%PDF-1.4 contents")])
    )
    [res] = await h.intake.submit_many([item])
    doc = h.ledger.get_document(res.document_id)
    assert doc is not None
    [ref] = doc.attachments
    assert ref.size == len(b"%PDF-1.4 contents")
    assert h.ledger.attachment_content(ref.sha256) == b"%PDF-1.4 contents"


# --- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "value", "hint"),
    [
        ({"type": "pf", "cnp": "1960101000009"}, "1960101000009", "not a valid CNP"),
        ({"type": "pj", "cui": "RO12345670"}, "12345670", "not a valid CUI"),
    ],
)
def test_invalid_identifier_rejected_without_the_value(
    sender: dict[str, str], value: str, hint: str
) -> None:
    with pytest.raises(ValidationError) as info:
        DocumentIn.model_validate({"external_id": "i-1", "sender": sender})
    text = str(info.value)
    assert hint in text
    assert value not in text
    [err] = info.value.errors(include_input=False)
    assert value not in str(err)


async def test_valid_cnp_is_kept_for_delivery(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    doc = DocumentIn(
        external_id="i-2", sender={"type": "pf", "name": "Ion Popescu-Test", "cnp": valid_cnp()}
    )
    [res] = await h.intake.submit_many([h.intake.prepare(doc)])
    stored = h.ledger.get_document(res.document_id)
    assert stored is not None and stored.sender is not None
    assert stored.sender.cnp == valid_cnp()


# --- classification and routing ---------------------------------------------------------------


class Classifier:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def hub_classify(self, document: DocumentIn) -> str | None:
        self.seen.append(document.external_id)
        return "factura" if "factura" in document.subject.lower() else None


async def test_classification_hook_when_kind_is_missing(make_hub: MakeHub) -> None:
    classifier = Classifier()
    h = hub_with(make_hub, classifier)
    item = h.intake.prepare(DocumentIn(external_id="c-1", subject="Factura nr. 12"))
    assert item.row["kind"] == "factura"
    # A kind given by the sender is not second-guessed.
    given = h.intake.prepare(DocumentIn(external_id="c-2", subject="Factura", kind="petitie"))
    assert given.row["kind"] == "petitie"
    assert classifier.seen == ["c-1"]
    [res] = await h.intake.submit_many([item])
    stored = h.ledger.get_document(res.document_id)
    assert stored is not None and stored.kind == "factura"


async def test_fallback_kind_is_altele(make_hub: MakeHub) -> None:
    h = hub_with(make_hub, Classifier())
    assert h.intake.prepare(DocumentIn(external_id="c-3", subject="Altceva")).row["kind"] == (
        "altele"
    )
    bare = hub_with(make_hub)
    assert bare.intake.prepare(DocumentIn(external_id="c-4")).row["kind"] == "altele"


async def test_prepare_routes_and_explains(make_hub: MakeHub) -> None:
    h = make_hub(
        entry_points=False,
        plugins=(hub.builtin.noop,),
        rules={
            "rule": [
                {
                    "name": "fines",
                    "kinds": ["amenda"],
                    "department": "DF",
                    "destinations": [{"connector": "noop", "target": "DF"}],
                }
            ],
            "fallback": {"department": "REG", "destinations": [{"connector": "noop"}]},
        },
    )
    item = h.intake.prepare(DocumentIn(external_id="r-1", kind="amenda"), actor="cli:ana")
    assert item.row["department"] == "DF"
    assert item.row["routing_rule"] == "fines"
    assert item.reason == "rule fines → noop[DF]"
    assert item.actor == "cli:ana"
    other = h.intake.prepare(DocumentIn(external_id="r-2"))
    assert other.reason == "rule fallback → noop"
    assert other.row["department"] == "REG"


def test_anonymous_petition_with_a_name_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        DocumentIn.model_validate(
            {
                "external_id": "p-1",
                "kind": "petitie_anonima",
                "sender": {"type": "pf", "name": "Ion Popescu-Test"},
            }
        )
    assert "petitie_anonima" in str(info.value)
    assert "Popescu" not in str(info.value)


# --- group commit -----------------------------------------------------------------------------


async def test_group_commit_of_concurrent_submissions(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    batches: list[int] = []
    real = h.ledger.insert_documents

    def recording(batch: Sequence[PreparedDocument], **kw: Any) -> list[IntakeResult]:
        batches.append(len(batch))
        return real(batch, **kw)

    h.ledger.insert_documents = recording  # type: ignore[method-assign]
    # 90 distinct documents, each of the first ten offered twice.
    ids = [f"g-{i}" for i in range(90)] + [f"g-{i}" for i in range(10)]
    items = [h.intake.prepare(DocumentIn(source="counter", external_id=x)) for x in ids]
    results = await asyncio.gather(*(h.intake.submit(item) for item in items))

    assert sum(batches) == 100
    assert batches == [100], "concurrent submissions share one transaction"
    assert h.ledger.count_documents() == 90
    created = [r for r in results if r.created]
    assert len(created) == 90
    assert len({r.document_id for r in created}) == 90
    by_ext = {x: r.document_id for x, r in zip(ids[:90], results[:90], strict=True)}
    for x, r in zip(ids[90:], results[90:], strict=True):
        assert not r.created
        assert r.document_id == by_ext[x]  # deduplicated within the same batch
    # Each committed document has its delivery.
    for r in created:
        assert len(h.ledger.deliveries_of(r.document_id)) == 1
    assert (
        h.metrics.registry.get_sample_value(
            "hub_documents_total", {"channel": "api", "kind": "altele"}
        )
        == 90
    )


async def test_group_commit_wakes_the_dispatcher(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)
    woken: list[set[str] | None] = []
    h.intake.on_committed = woken.append
    await h.intake.submit(h.intake.prepare(DocumentIn(external_id="w-1")))
    assert woken == [None]  # no dispatcher running here to hand the document to: wake all
    # A replay creates nothing and wakes nobody.
    await h.intake.submit(h.intake.prepare(DocumentIn(external_id="w-1")))
    assert woken == [None]


async def test_a_failed_commit_fails_every_waiter(make_hub: MakeHub) -> None:
    h = hub_with(make_hub)

    def broken(batch: Sequence[PreparedDocument], **kw: Any) -> list[IntakeResult]:
        raise RuntimeError("disk full")

    h.ledger.insert_documents = broken  # type: ignore[method-assign]
    items = [h.intake.prepare(DocumentIn(external_id=f"f-{i}")) for i in range(3)]
    results = await asyncio.gather(*(h.intake.submit(i) for i in items), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    # The committer survives and commits the next batch.
    del h.ledger.insert_documents
    res = await h.intake.submit(h.intake.prepare(DocumentIn(external_id="f-next")))
    assert res.created
