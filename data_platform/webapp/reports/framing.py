"""The Airflow UI may frame the admin (and nobody else): Airflow 3's DAG run tabs are plugin views shown
in an iframe (plugins/review_admin.py). Every response that Django's XFrameOptionsMiddleware would mark
DENY gets `Content-Security-Policy: frame-ancestors 'self' <Airflow's origin>` instead (browsers obey
frame-ancestors over X-Frame-Options); other origins still cannot frame it (clickjacking)."""
from __future__ import annotations

from urllib.parse import urlsplit

from data_platform import settings


def airflow_origin() -> str | None:
    parts = urlsplit(settings.airflow_base_url())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class FrameableByAirflowMiddleware:
    """Listed after django.middleware.clickjacking.XFrameOptionsMiddleware (it sees the response first)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.origin = airflow_origin()

    def __call__(self, request):
        response = self.get_response(request)
        if self.origin is None or getattr(response, "xframe_options_exempt", False):
            return response
        if "frame-ancestors" not in response.get("Content-Security-Policy", ""):
            csp = response.get("Content-Security-Policy", "")
            response["Content-Security-Policy"] = ((csp + "; ") if csp else "") + f"frame-ancestors 'self' {self.origin}"
            response.xframe_options_exempt = True  # the CSP above replaces X-Frame-Options: DENY
        return response
