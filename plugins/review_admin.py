"""Links from the Airflow UI to the review admin (Django).

- "Revue des suggestions" in the navigation: the suggestions still to review.
- A "Cohorte (revue)" tab on every DAG run: the admin's cohort of that run (cohorts are keyed by
  the Airflow run id; a run of another DAG, a dry run or a run still going gets a clear message).

Airflow 3.3 external views: no `url_route`, so they open the admin itself (which refuses to be
framed) rather than an iframe. Placeholders {DAG_ID}/{RUN_ID} are filled in by the UI.
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
        },
    ]
