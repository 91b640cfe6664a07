"""A private Dovecot IMAP server on 127.0.0.1 for the mailbox tests.

:func:`dovecot_session` (the body of a session fixture: one server per pytest-xdist worker)
installs Debian's ``dovecot-imapd`` when ``dovecot`` is absent (``apt-get install -y
dovecot-imapd``; the tests run as root on CI), writes its own configuration into a temporary
folder — its own port, a passwd-file of throw-away users, maildirs in the folder, implicit TLS
with a self-signed certificate made here with ``openssl`` — starts it, and stops it at the end.
The system's Dovecot configuration and service are never touched.

:meth:`DovecotServer.add_user` hands each test a user of its own, so tests never see each
other's mail.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Users written into the passwd-file at start: one per test that asks for an account.
POOL_SIZE = 500


@dataclass(frozen=True)
class DovecotServer:
    root: Path
    port: int
    ca_file: Path
    passwd: Path
    password: str
    counter: Iterator[int] = field(default_factory=itertools.count)
    pool_lock: threading.Lock = field(default_factory=threading.Lock)

    def add_user(self) -> tuple[str, str]:
        """A user nobody else has had (from the pool written at start-up: Dovecot reads its
        passwd-file again only when the file's mtime changes, a second at best)."""
        with self.pool_lock:
            index = next(self.counter)
        if index >= POOL_SIZE:
            raise RuntimeError(f"more than {POOL_SIZE} IMAP users in one test session")
        return f"user{index:04d}", self.password

    def client(self, user: str, password: str) -> object:
        from imapclient import IMAPClient  # type: ignore[import-untyped]

        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        client = IMAPClient("127.0.0.1", port=self.port, ssl=True, ssl_context=ctx, timeout=10)
        try:
            client.login(user, password)
        except Exception:
            client.shutdown()
            raise
        return client


def _install() -> None:
    if shutil.which("dovecot"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "dovecot-imapd"], check=True, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{port}")


CONFIG = """\
instance_name = hubtest-{tag}
base_dir = {root}/run
state_dir = {root}/state
listen = 127.0.0.1
protocols = imap
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def _users() -> tuple[str, str, str, int, int]:
    """internal user, its group, login user, mail uid, mail gid."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    nobody = pwd.getpwnam("nobody")
    internal = "dovecot" if _has_user("dovecot") else "nobody"
    login = "dovenull" if _has_user("dovenull") else "nobody"
    import grp

    group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
    return internal, group, login, nobody.pw_uid, nobody.pw_gid


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def start_dovecot(tag: str) -> tuple[DovecotServer, subprocess.CompletedProcess[bytes]]:
    _install()
    root = Path(tempfile.mkdtemp(prefix=f"hub-dovecot-{tag}-"))
    root.chmod(0o755)
    internal, group, login, uid, gid = _users()
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(root / sub, uid, gid)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    passwd = root / "passwd"
    password = uuid.uuid4().hex
    passwd.write_text(
        "".join(f"user{i:04d}:{{PLAIN}}{password}::::::\n" for i in range(POOL_SIZE)),
        encoding="utf-8",
    )
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            tag=tag,
            root=root,
            port=port,
            internal=internal,
            internal_group=group,
            login=login,
            uid=uid,
            gid=gid,
        ),
        encoding="utf-8",
    )
    # The master daemonizes: it must not inherit a pipe we wait on, hence files, not pipes.
    with (root / "start.err").open("wb") as err:
        started = subprocess.run(
            ["dovecot", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            check=False,
        )
    if started.returncode != 0:
        log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
        errors = (root / "start.err").read_text()
        raise RuntimeError(f"dovecot failed to start: {errors} {log}")
    _wait_for(port)
    return DovecotServer(root, port, root / "cert.pem", passwd, password), started


def stop_dovecot(server: DovecotServer) -> None:
    conf = server.root / "dovecot.conf"
    subprocess.run(
        ["dovecot", "-c", str(conf), "stop"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    pidfile = server.root / "run" / "master.pid"
    for _ in range(50):
        if not pidfile.exists():
            break
        time.sleep(0.1)
    shutil.rmtree(server.root, ignore_errors=True)


def dovecot_session(worker_id: str) -> Iterator[DovecotServer]:
    """Body of a session fixture: a server for this pytest-xdist worker, stopped at the end."""
    server, _ = start_dovecot(f"{worker_id}-{os.getpid()}")
    try:
        yield server
    finally:
        stop_dovecot(server)
