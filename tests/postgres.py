"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory.

``PgCluster.start()`` runs ``initdb`` and ``pg_ctl start`` on 127.0.0.1 and a free port
(durability settings off: the data is thrown away). ``initdb`` refuses to run as root, so as
root the cluster is owned and run by a non-root user (``postgres`` unless
``OPENSINK_PG_USER`` says otherwise) through ``runuser``.

The binaries are looked up in ``OPENSINK_PG_BIN``, on PATH, then in Debian's
``/usr/lib/postgresql/<version>/bin``. When they are missing, the tests that need them fail
with a message saying how to install them (they are never skipped silently).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_counter = itertools.count(1)


class PostgresMissing(RuntimeError):
    pass


def find_bin_dir() -> Path:
    candidates = []
    if os.environ.get("OPENSINK_PG_BIN"):
        candidates.append(os.environ["OPENSINK_PG_BIN"])
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(os.path.dirname(on_path))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if all(os.access(os.path.join(folder, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    raise PostgresMissing(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install Debian's 'postgresql' "
        "package (apt-get install postgresql) or set OPENSINK_PG_BIN to their directory")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable  # fsync and synchronous commits on (benchmarks); the tests turn them off
        self.bin = find_bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="opensink-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = os.environ.get("OPENSINK_PG_USER", "postgres")
            try:
                pw = pwd.getpwnam(self.user)
            except KeyError:
                raise PostgresMissing(
                    f"running as root, PostgreSQL needs a non-root user to run as: create user {self.user!r} "
                    "(Debian's postgresql package does) or set OPENSINK_PG_USER") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.role = self.user or pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> PgCluster:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.role, "-E", "UTF8",
                  "--no-locale", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                   "-c max_connections=200 -c shared_buffers=128MB")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.role}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty or a copy of the database at URL ``template``; returns its URL."""
        import psycopg

        name = f"opensink_test_{os.getpid()}_{next(_counter)}"
        source = template.rsplit("/", 1)[1] if template else "template0"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DatabasePool:
    """Databases holding the product's schema, lent to one test at a time and emptied between tests.

    Emptying a database with a few rows takes milliseconds; copying a template and dropping the copy takes
    a tenth of a second or more, once per PostgreSQL test. A database is lent again only when nothing is
    connected to it any more and it holds nothing but the product's schema; otherwise it is dropped."""

    SCHEMA = "opensink"
    KEPT = ("schema_version", "tables")  # the store's own record of its migrations and table specs

    def __init__(self, cluster: PgCluster, template: str):
        self.cluster = cluster
        self.template = template
        self.free: list[str] = []
        self.lent: set[str] = set()

    def lend(self) -> str:
        url = self.free.pop() if self.free else self.cluster.create_database(template=self.template)
        self.lent.add(url)
        return url

    def give_back(self, url: str) -> None:
        self.lent.discard(url)
        if self._emptied(url):
            self.free.append(url)
        else:
            self.cluster.drop_database(url)

    def close(self) -> None:
        for url in [*self.free, *self.lent]:
            self.cluster.drop_database(url)
        self.free.clear()
        self.lent.clear()

    def _emptied(self, url: str) -> bool:
        import time

        import psycopg
        from psycopg import sql

        name = url.rsplit("/", 1)[1]
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                deadline = time.monotonic() + 1.0  # a server's closed connections end a moment after it stops
                while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                   "AND pid <> pg_backend_pid()", (name,)).fetchone()[0]:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.02)
                schemas = {row[0] for row in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname <> 'information_schema'")}
                if schemas != {"public", self.SCHEMA}:
                    return False
                tables = [row[0] for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.SCHEMA,))]
                with conn.transaction():
                    conn.execute("SET LOCAL lock_timeout = '2s'")
                    for table in tables:
                        if table not in self.KEPT:
                            conn.execute(sql.SQL("DELETE FROM {}.{}").format(sql.Identifier(self.SCHEMA),
                                                                             sql.Identifier(table)))
            return True
        except psycopg.Error:
            return False
