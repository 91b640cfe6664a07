"""Document ids: version 7 UUIDs, ordered by the time they were made (hub.ids)."""

from __future__ import annotations

import time
import uuid

from hub.ids import new_id, uuid7
from hub.models import DocumentIn
from tests.fixtures import MakeHub


def test_a_document_id_is_a_version_7_uuid_carrying_its_time() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after
    text = new_id()
    assert len(text) == 36 and uuid.UUID(text).version == 7


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    first = [new_id() for _ in range(2_000)]
    time.sleep(0.002)
    later = [new_id() for _ in range(2_000)]
    assert max(first) < min(later)  # a later millisecond sorts after, as text too
    assert len(set(first + later)) == 4_000


async def test_intake_gives_each_new_document_a_time_ordered_id(make_hub: MakeHub) -> None:
    hub = make_hub()
    first, second = (
        hub.intake.prepare(DocumentIn(source="test", external_id=f"ordered-{i}")) for i in (1, 2)
    )
    made = [uuid.UUID(p.row["id"]) for p in (first, second)]
    assert [u.version for u in made] == [7, 7]
    # Ordered by the millisecond (within one, the random bits decide).
    assert made[0].int >> 80 <= made[1].int >> 80
