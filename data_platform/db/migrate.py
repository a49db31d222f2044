"""Schema migrations (Django's) and reference data, in one idempotent call."""
from __future__ import annotations

from data_platform import settings


def migrate(verbosity: int = 0) -> dict:
    url = settings.database_url()
    _create_database_if_missing(url)
    from data_platform.webapp.setup import setup_django

    setup_django()
    from django.core.management import call_command

    from data_platform.reference import ensure_reference_data

    call_command("migrate", interactive=False, verbosity=verbosity)
    return ensure_reference_data()


def _create_database_if_missing(url: str) -> None:
    """DATABASE_URL may name a database that does not exist yet: create it when the role may."""
    import psycopg2

    from data_platform.db.connection import ensure_database

    try:
        psycopg2.connect(url).close()
    except psycopg2.OperationalError as err:
        if "does not exist" not in str(err):
            raise
        ensure_database(url)
