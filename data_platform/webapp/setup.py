"""Start Django from plain Python (CLI, Airflow tasks, tests)."""
import os


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "data_platform.webapp.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
