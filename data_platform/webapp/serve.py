"""`data-platform admin` (`make admin`): migrate, make sure a demo reviewer exists, serve the admin.

Local use only: Django's runserver on 127.0.0.1, static files served by django.contrib.staticfiles
(`--insecure`, as DEBUG is off). The demo reviewer's password comes from DP_DEMO_REVIEWER_PASSWORD,
or is generated once, printed once and kept in .local/admin_reviewer_password (mode 600).
"""
from __future__ import annotations

import os
import secrets

from data_platform import settings

DEMO_USERNAME = "reviewer"
PASSWORD_FILE = "admin_reviewer_password"


def ensure_demo_reviewer() -> tuple[str, str | None, bool]:
    """Create or update the demo reviewer (staff, group reviewer).

    Returns (username, password to show or None when already shown once, created)."""
    from django.contrib.auth.models import Group, User

    from data_platform.reference import REVIEWER_GROUP

    password_file = settings.LOCAL_DIR / PASSWORD_FILE
    env_password = os.environ.get("DP_DEMO_REVIEWER_PASSWORD")
    user, created = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"is_staff": True})
    shown: str | None = None
    if env_password:
        if created or not user.check_password(env_password):
            user.set_password(env_password)
        shown = "(DP_DEMO_REVIEWER_PASSWORD)"
    elif created or not password_file.exists() or not user.has_usable_password():
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600, exist_ok=True)
        os.chmod(password_file, 0o600)
        password_file.write_text(password + "\n")
        shown = password
    user.is_staff = True
    user.is_active = True
    user.save()
    user.groups.add(Group.objects.get(name=REVIEWER_GROUP))
    return DEMO_USERNAME, shown, created


def run(args) -> int:
    from data_platform.db.migrate import migrate

    port = int(getattr(args, "port", 8001) or 8001)
    migrate()  # sets up Django too
    (settings.LOCAL_DIR / "static").mkdir(parents=True, exist_ok=True)
    username, password, _ = ensure_demo_reviewer()
    url = f"http://127.0.0.1:{port}/admin/"
    print(f"Review admin: {url}")
    print(f"Login: {username}")
    if password and password.startswith("("):
        print(f"Password: {password}")
    elif password:
        print(f"Password (shown once, kept in {settings.LOCAL_DIR / PASSWORD_FILE}): {password}")
    else:
        print(f"Password: see {settings.LOCAL_DIR / PASSWORD_FILE} (or set DP_DEMO_REVIEWER_PASSWORD)")
    print(f"Airflow links to it when DP_ADMIN_URL={url} (default {settings.admin_base_url()}).", flush=True)

    from django.core.management import call_command

    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, insecure_serving=True,
                 use_threading=True)
    return 0
