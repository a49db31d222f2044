"""Schema migrations (Django's) and reference data, in one idempotent call."""
from __future__ import annotations

from data_platform import settings


def migrate(verbosity: int = 0) -> dict:
    settings.database_url()
    from data_platform.webapp.setup import setup_django

    setup_django()
    from django.core.management import call_command

    from data_platform.reference import ensure_reference_data

    call_command("migrate", interactive=False, verbosity=verbosity)
    return ensure_reference_data()
