"""The Airflow plugin is loaded from plugins/ and its links lead to admin pages that exist."""
from __future__ import annotations

from urllib.parse import urlsplit


def test_plugin_external_views_point_to_the_admin(airflow_env, db):
    from airflow import plugins_manager

    # what the API (/api/v2/plugins) gives the UI
    info = {p["name"]: p for p in plugins_manager.get_plugin_info()}
    assert not {k: v for k, v in plugins_manager.get_import_errors().items() if "review_admin" in k}
    views = {v["name"]: v for v in info["review_admin"]["external_views"]}
    nav, per_run = views["Revue des suggestions"], views["Cohorte (revue)"]
    assert nav["destination"] == "nav" and per_run["destination"] == "dag_run"
    assert "{RUN_ID}" in per_run["href"]
    # Airflow 3.3's UI shows a DAG run tab only for a view with a url_route (distinct per view)
    report = views["Rapport du run"]
    assert report["destination"] == "dag_run" and "{RUN_ID}" in report["href"]
    assert per_run["url_route"] == "cohorte-revue" and report["url_route"] == "rapport-run"

    # the admin answers those URLs (as a reviewer would, logged in)
    from django.contrib.auth.models import User
    from django.test import Client

    from data_platform.suggestions import sample
    from data_platform.webapp.setup import setup_django

    setup_django()
    cid = sample.create_cohorte(db, "scheduled__2026-11-22T00:00:00+00:00")
    db.commit()
    User.objects.filter(username="plugin-reader").delete()
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, without setup_test_environment()
    client.force_login(User.objects.create(username="plugin-reader", is_superuser=True, is_staff=True))
    url = per_run["href"].replace("{DAG_ID}", "cluster_acteurs").replace(
        "{RUN_ID}", "scheduled__2026-11-22T00:00:00%2B00:00")
    parts = urlsplit(url)
    r = client.get(parts.path + "?" + parts.query)
    assert r.status_code == 302 and r["Location"].endswith(f"/suggestioncohorte/{cid}/change/")
    parts = urlsplit(nav["href"])
    assert client.get(parts.path + "?" + parts.query).status_code == 200
    # the report tab: the run's report, rendered by the admin
    parts = urlsplit(report["href"].replace("{DAG_ID}", "cluster_acteurs").replace(
        "{RUN_ID}", "scheduled__2026-11-22T00:00:00%2B00:00"))
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, dag_run_id, params, status) values (%s, %s, '{}', 'done')",
                    ("scheduled__2026-11-22T00:00:00+00:00", "scheduled__2026-11-22T00:00:00+00:00"))
    db.commit()
    r = client.get(parts.path + "?" + parts.query)
    assert r.status_code == 200 and b"scheduled__2026-11-22T00:00:00+00:00" in r.content
