"""DATABASE_URL may name a database that does not exist yet: `migrate` creates it."""
import os
import subprocess
import sys

from data_platform import settings
from data_platform.db.connection import connect, drop_database


def test_migrate_creates_a_missing_database(database_url):
    url = settings.with_database(database_url, "dp_test_missing_db")
    drop_database(url)
    try:
        result = subprocess.run([sys.executable, "-m", "data_platform.cli", "migrate"], capture_output=True,
                                text=True, env={**os.environ, "DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from acteur_type")
            assert cur.fetchone()[0] == 11
    finally:
        drop_database(url)
