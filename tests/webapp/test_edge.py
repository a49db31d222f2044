"""The admin's edge: NUL characters refused with a 400 before any query (issue 13 item 6), every 500 logged
with its traceback on stderr."""
from __future__ import annotations

import io
import logging

import pytest
from django.urls import path

from tests.webapp.test_admin import _django, users  # noqa: F401  (fixtures: Django set up, a reviewer)


@pytest.fixture
def reviewer(users):  # noqa: F811 (the imported fixture)
    return users["reviewer"]


def _client(user, **kw):
    from django.test import Client

    c = Client(raise_request_exception=False, **kw)
    c.force_login(user)
    return c


@pytest.mark.parametrize("url", [
    "/admin/suggestions/suggestion/?departement=a%00",
    "/admin/suggestions/suggestion/?source=x%00",
    "/admin/suggestions/suggestioncohorte/par-run/?run_id=x%00",
    "/admin/suggestions/suggestion/?q=%00",
    "/admin/suggestions/suggestion/?a%00=1",
])
def test_nul_in_a_parameter_is_a_400_naming_it(reviewer, url):
    r = _client(reviewer).get(url)
    assert r.status_code == 400
    assert b"contains a NUL character" in r.content


def test_nul_in_a_form_value_is_a_400(reviewer):
    r = _client(reviewer).post("/admin/suggestions/suggestion/1/decider/", {"decision": "approve\x00"})
    assert r.status_code == 400 and b"'decision'" in r.content


def test_clean_parameters_still_pass(reviewer):
    r = _client(reviewer).get("/admin/suggestions/suggestion/?departement=75")
    assert r.status_code == 200


def _boom(request):
    raise RuntimeError("boom in a view")


urlpatterns = [path("boom/", _boom)]


def test_every_500_is_logged_with_its_traceback_on_stderr(reviewer):
    from django.test import override_settings

    handlers = [h for h in logging.getLogger("django.request").handlers
                if isinstance(h, logging.StreamHandler) and h.level <= logging.ERROR]
    assert handlers, "django.request has no stream handler: a 500 would leave no trace"
    stream = io.StringIO()
    old = handlers[0].setStream(stream)
    try:
        with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
            r = _client(reviewer).get("/boom/")
    finally:
        handlers[0].setStream(old)
    assert r.status_code == 500
    logged = stream.getvalue()
    assert "Internal Server Error: /boom/" in logged
    assert "Traceback" in logged and "RuntimeError: boom in a view" in logged


def test_the_handler_writes_to_stderr():
    from django.conf import settings

    handler = settings.LOGGING["handlers"][settings.LOGGING["loggers"]["django.request"]["handlers"][0]]
    assert handler["stream"] == "ext://sys.stderr" and handler["level"] == "ERROR"


def test_login_is_throttled_after_repeated_failures(db):
    """Issue 13 item 14: after AXES_FAILURE_LIMIT wrong passwords, even the right one is refused."""
    from axes.utils import reset
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    reset()
    User.objects.filter(username="carol").delete()
    User.objects.create_user("carol", password="right-password-123", is_staff=True)
    c = Client()
    ok = c.post("/admin/login/", {"username": "carol", "password": "right-password-123"})
    assert ok.status_code == 302  # the right password works before any failure
    c = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        r = c.post("/admin/login/", {"username": "carol", "password": "wrong"})
        assert r.status_code in (200, 429)
    locked = c.post("/admin/login/", {"username": "carol", "password": "right-password-123"})
    assert locked.status_code == 429 and "_auth_user_id" not in c.session
    reset()
    assert Client().post("/admin/login/", {"username": "carol", "password": "right-password-123"}).status_code == 302
