"""Links from the Airflow UI to the review admin (Django).

- "Revue des suggestions" in the navigation: the suggestions still to review.
- Two tabs on every DAG run: "Cohorte (revue)", the admin's cohort of that run (cohorts are keyed by
  the Airflow run id; a run of another DAG, a dry run or a run still going gets a clear message), and
  "Rapport du run", the run's report rendered by the admin (data_platform/webapp/reports).

Airflow 3.3's UI renders a DAG run tab only for an external view with a `url_route`: the tab
(`/dags/<dag>/runs/<run>/plugin/<url_route>`) shows `href` in an iframe, {DAG_ID}/{RUN_ID} filled in
(URL-encoded) by the UI. The admin lets Airflow's origin (DP_AIRFLOW_URL), and only it, frame its
pages (data_platform/webapp/reports/framing.py). The admin's address is DP_ADMIN_URL.
"""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from data_platform import settings

_ADMIN = settings.admin_base_url().rstrip("/") + "/"


class ReviewAdminPlugin(AirflowPlugin):
    name = "review_admin"
    external_views = [  # noqa: RUF012 - AirflowPlugin declares it as a list
        {
            "name": "Revue des suggestions",
            "href": _ADMIN + "suggestions/suggestion/?statut__exact=to_review",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Cohorte (revue)",
            "href": _ADMIN + "suggestions/suggestioncohorte/par-run/?dag_id={DAG_ID}&run_id={RUN_ID}",
            "destination": "dag_run",
            "url_route": "cohorte-revue",
        },
        {
            "name": "Rapport du run",
            "href": _ADMIN + "rapports/run/?dag_id={DAG_ID}&run_id={RUN_ID}",
            "destination": "dag_run",
            "url_route": "rapport-run",
        },
    ]
