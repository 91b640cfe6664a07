"""`hub demo` and `hub run` as real processes, the way an operator starts them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hub.auth.schema import users
from hub.db.engine import make_engines
from hub.db.ledger import Ledger
from hub.db.schema import deliveries, documents
from hub.demo.samples import SOURCE, samples

pytestmark = pytest.mark.slow

HUB = [sys.executable, "-m", "hub.cli.main"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONFIG_FILE"] = os.environ["HUB_CONFIG_FILE"]  # the fixture's absent file
    env.update(extra)
    return env


def test_demo_delivers_every_sample_and_exits_0(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    proc = subprocess.run(
        [*HUB, "demo", "--for", "15", "--dir", str(demo_dir), "--port", "0"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n = len(samples())
    assert f"{n}/{n} sample documents delivered" in proc.stdout
    assert f"all {n} sample documents delivered" in proc.stdout
    assert "Token" in proc.stdout and "hub_" in proc.stdout
    assert "/docs" in proc.stdout and "/metrics" in proc.stdout
    assert re.search(
        r"Dashboard\s+http://127\.0\.0\.1:\d+/\s+\(user demo, password \S+\)", proc.stdout
    )
    assert "Traceback" not in proc.stderr

    # The ledger it leaves behind agrees: every sample is there and each of their deliveries
    # delivered. (The plugins' simulated feeds add documents of their own beside the samples.)
    writer, reader = make_engines(f"sqlite:///{demo_dir / 'hub.db'}")
    try:
        with reader.connect() as conn:
            of_samples = documents.c.source == SOURCE
            count = select(func.count()).select_from(documents).where(of_samples)
            assert conn.execute(count).scalar() == n
            states = dict(
                conn.execute(
                    select(deliveries.c.state, func.count())
                    .join(documents, documents.c.id == deliveries.c.document_id)
                    .where(of_samples)
                    .group_by(deliveries.c.state)
                ).all()
            )
            demo_user = conn.execute(
                select(users.c.role, users.c.password_hash).where(users.c.name == "demo")
            ).one()
            receipts = conn.execute(
                select(deliveries.c.state, deliveries.c.receipt).where(
                    deliveries.c.connector == "receipt"
                )
            ).all()
            couriered = conn.execute(
                select(func.count()).where(
                    deliveries.c.connector == "postal", deliveries.c.state == "delivered"
                )
            ).scalar()
            emailed = conn.execute(
                select(deliveries.c.state, deliveries.c.receipt).where(
                    deliveries.c.connector == "email", deliveries.c.state == "delivered"
                )
            ).all()
        assert demo_user.role == "admin" and demo_user.password_hash.startswith("$argon2")
        # Petitions and 544 requests get their receipt by e-mail, at the demo's SMTP server.
        sent = [r for r in receipts if r.state == "delivered" and r.receipt["status"] == "sent"]
        assert sent, receipts
        counted = re.search(r"smtp\s+│\s+e-mails\s+│\s+(\d+)\s+│", proc.stdout)
        assert counted and int(counted.group(1)) >= len(sent)
        # Once the samples are registered, an answer leaves by courier (the postal simulator's
        # follow-up through POST /api/v1/dispatches): its AWB was created.
        assert couriered == 1, couriered
        assert re.search(r"postal\s+│\s+AWBs\s+│\s+1\s+│", proc.stdout), proc.stdout[-3000:]
        # The public-transport petition goes to a municipal company by e-mail.
        assert [r.receipt["data"]["unit"] for r in emailed] == ["STPT"], emailed
        assert int(counted.group(1)) == len(sent) + 1
        assert set(states) == {"delivered"}
        assert states["delivered"] >= n
    finally:
        writer.dispose()
        reader.dispose()


@pytest.fixture
def running_hub(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    with _hub_run(database_url, tmp_path) as running:
        yield running


@contextlib.contextmanager
def _hub_run(
    database_url: str, tmp_path: Path, **extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    routing = tmp_path / "routing.toml"
    routing.write_text('[fallback]\ndestinations = [{ connector = "noop" }]\n', encoding="utf-8")
    log = tmp_path / "hub.log"
    env = _env(
        HUB_DATABASE_URL=database_url,
        HUB_ROUTING_FILE=str(routing),
        HUB_API_PORT="0",
        HUB_LOG_FORMAT="json",
        HUB_LOG_LEVEL="INFO",
        HUB_LOAD_PLUGINS="webhook,noop",  # no plugin source may poll a real system from here
        **extra,
    )
    with log.open("wb") as out:
        proc = subprocess.Popen([*HUB, "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _started_url(proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"hub.started"' in line:
                return str(json.loads(line)["api"])
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError("hub run did not log hub.started:\n" + log.read_text())


def test_run_serves_and_exits_0_on_sigterm(
    running_hub: tuple[subprocess.Popen[bytes], Path], database_url: str
) -> None:
    proc, log = running_hub
    url = _started_url(proc, log)
    writer, reader = make_engines(database_url)
    try:
        ledger = Ledger(writer, reader)
        token = ledger.create_token("process-test", ["intake"])
        assert httpx.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        resp = httpx.post(
            f"{url}/api/v1/documents",
            json={"external_id": "through-hub-run"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert resp.status_code == 201
        doc_id = resp.json()["id"]
        deadline = time.monotonic() + 20
        while ledger.deliveries_of(doc_id)[0]["state"] != "delivered":
            assert time.monotonic() < deadline, "the workers did not deliver"
            time.sleep(0.05)
    finally:
        writer.dispose()
        reader.dispose()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    text = log.read_text()
    assert '"hub.stopped"' in text
    assert "Traceback" not in text
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=2)


@pytest.mark.parametrize(("trusted", "separate"), [("127.0.0.1", True), ("10.9.8.7", False)])
def test_status_lookups_count_per_client_only_behind_a_trusted_proxy(
    database_url: str, tmp_path: Path, trusted: str, separate: bool
) -> None:
    """`hub run` believes X-Forwarded-For only from HUB_FORWARDED_ALLOW_IPS: behind a trusted
    proxy the /status rate limit counts each citizen; from anywhere else the header is ignored
    (a client cannot dodge the limit by inventing addresses)."""
    with _hub_run(database_url, tmp_path, HUB_FORWARDED_ALLOW_IPS=trusted) as (proc, log):
        url = _started_url(proc, log)

        def lookup(client_ip: str) -> int:
            r = httpx.post(
                f"{url}/status",
                data={"nr": "RG00001/2026", "cod": "ACDEFGHJKM"},
                headers={"X-Forwarded-For": client_ip},
                timeout=10,
            )
            return r.status_code

        first = [lookup("198.51.100.7") for _ in range(11)]
        other = lookup("198.51.100.8")
    assert first[:10] == [200] * 10 and first[10] == 429
    assert other == (200 if separate else 429)
