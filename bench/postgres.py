"""A throwaway PostgreSQL server (Debian package `postgresql`) on 127.0.0.1, its data under a temporary folder."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.deployment import free_port

SERVICE_USER = "postgres"  # created by the Debian package; the server refuses to run as root


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class PostgresServer:
    """initdb + pg_ctl as a non-root user; trust authentication on 127.0.0.1 only; `stop()` removes everything."""

    def __init__(self, bin_dir: Path, parent: Path, durable: bool = False):
        self.bin = bin_dir
        self.durable = durable
        self.as_root = os.geteuid() == 0
        # As root the server runs as `postgres`, which must reach its folder: pytest's temp root is private (0700).
        self.root = Path(tempfile.mkdtemp(prefix="hc-pg-", dir="/tmp" if self.as_root else parent))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = SERVICE_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.database = "dagster"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", SERVICE_USER, "--", *args] if self.as_root else list(args)
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "PostgresServer":
        if self.as_root:
            uid = pwd.getpwnam(SERVICE_USER)
            os.chown(self.root, uid.pw_uid, uid.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8")
        # A throwaway server: no fsync, so commits wait for no disk (a loaded machine made them 100+ ms); a
        # benchmark that stands for production keeps Postgres's defaults (`durable`).
        durability = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} {durability}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                          self.database)  # fmt: skip
                return self
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def create_database(self, name: str) -> None:
        """One more empty database on this server."""
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)

    @property
    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.yaml reads (trust authentication ignores the password)."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "unused",
            "DAGSTER_PG_DB": self.database,
        }

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
