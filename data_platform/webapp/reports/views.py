"""The run report for a run id, rendered from the database on each request (no file on the server).

`/admin/rapports/run/?run_id=<Airflow run id>[&departement=75]` (also `dag_id=`, from the Airflow DAG
run tab): staff only (the admin's login). Links inside are relative to the admin; plotly.js is one
shared script (`/admin/rapports/plotly.js`), not a CDN.
"""
from __future__ import annotations

import functools
import html

from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from data_platform.report.run_report import UnknownRunError, gather, render


def _message_page(title: str, text: str, status: int = 404) -> HttpResponse:
    page = (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}</style></head><body>'
            f"<h1>{html.escape(title)}</h1><p>{text}</p></body></html>")
    return HttpResponse(page, status=status)


@require_GET
@staff_member_required
def run_report(request):
    run_id = request.GET.get("run_id", "").strip()
    if not run_id:
        return _message_page("Rapport de run", "Paramètre <code>run_id</code> manquant.", status=400)
    admin_base = reverse("admin:index")
    departement = request.GET.get("departement") or None
    try:
        data = gather(connection, run_id, departement=departement)
    except UnknownRunError:
        dag = request.GET.get("dag_id", "")
        cohorts = admin_base + "suggestions/suggestioncohorte/"
        return _message_page(
            "Pas de rapport pour ce run",
            f"Aucun run de clustering « {html.escape(run_id)} »"
            + (f" (DAG <code>{html.escape(dag)}</code> : seul <code>cluster_acteurs</code> a un rapport)"
               if dag and dag != "cluster_acteurs" else " (run en cours, ou autre DAG)")
            + f'. <a href="{html.escape(cohorts)}">Toutes les cohortes</a>.')
    page = render(run_id, data, admin_base=admin_base, plotly_src=reverse("reports:plotly_js"),
                  map_form={"run_id": run_id})
    return HttpResponse(page)


@functools.cache
def _plotly_source() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


@require_GET
@cache_control(public=True, max_age=86400)
def plotly_js(request):
    """The plotly.js bundled with the plotly package (one copy for every report page)."""
    return HttpResponse(_plotly_source(), content_type="text/javascript; charset=utf-8")
