"""Links to a run's report from the admin's pages (the cohort list and change view)."""
from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html


def report_href(run_id: str) -> str:
    return reverse("reports:run") + "?" + urlencode({"run_id": run_id})


def cohort_report_link(model_admin, obj) -> str:
    """A ModelAdmin display method: the cohort's run report."""
    if not obj.run_id:
        return "—"
    return format_html('<a href="{}" class="lien-rapport">rapport du run</a>', report_href(obj.run_id))
