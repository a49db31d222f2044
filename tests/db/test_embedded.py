"""The embedded server: reading the URL starts nothing; a port held by another program is skipped."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from data_platform import settings
from data_platform.db import embedded


@pytest.fixture
def held_port():
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _child(code: str, local_dir, **env) -> subprocess.CompletedProcess:
    """Python code in a process of its own, without DATABASE_URL, on the local directory `local_dir`."""
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-c", code], env={**clean, "DP_LOCAL_DIR": str(local_dir), **env},
                          capture_output=True, text=True, check=False, timeout=300)


def test_reading_the_url_starts_nothing_and_leaves_the_environment(tmp_path):
    result = _child("import os; from data_platform import settings; "
                    "print(settings.database_url()); print('DATABASE_URL' in os.environ)",
                    tmp_path, DP_EMBEDDED_PORT="54999")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["postgresql://postgres@127.0.0.1:54999/data_platform", "False"]
    assert not (tmp_path / "pg").exists()


def test_the_recorded_port_is_skipped_when_another_program_holds_it(tmp_path, monkeypatch, held_port):
    monkeypatch.setattr(settings, "LOCAL_DIR", tmp_path)
    settings.embedded_port_file().write_text(str(held_port))
    port = embedded._choose_port()
    assert port > held_port and embedded._port_free(port)
    assert settings.embedded_port_file().read_text() == str(port)
    assert settings.embedded_url().endswith(f":{port}/data_platform")


def test_the_server_starts_on_a_free_port_when_its_port_is_taken(tmp_path, held_port):
    """A real second server in a directory of its own, whose recorded port another program holds."""
    local = tmp_path / "local"
    local.mkdir()
    (local / "pg.port").write_text(str(held_port))
    start = _child("from data_platform.db import embedded; print(embedded.ensure_url())", local)
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        url = start.stdout.strip().splitlines()[-1]
        port = urlsplit(url).port
        assert port != held_port and (local / "pg.port").read_text() == str(port)
        from data_platform.db.connection import connect

        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("show port")
            assert cur.fetchone()[0] == str(port)
        again = _child("from data_platform.db import embedded; print(embedded.ensure_url(), embedded.is_running())",
                       local)
        assert again.stdout.split()[-2:] == [url, "True"]  # reused, not started twice
    finally:
        stop = _child("from data_platform.db import embedded; print(embedded.stop())", local)
        assert stop.returncode == 0, stop.stderr


def test_a_command_without_database_starts_no_server(tmp_path):
    out = tmp_path / "actors.csv"
    result = _child(f"from data_platform.cli import main; main(['generate', '--actors', '50', '--out', {str(out)!r}])",
                    tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.exists() and not (tmp_path / "pg").exists() and not (tmp_path / "pg.port").exists()
