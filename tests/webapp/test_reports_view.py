"""The run report served by the admin: staff only, rendered from the database for a run id, one shared
plotly.js, linked from the cohort pages; the admin can be framed by Airflow's UI only."""
from __future__ import annotations

import json

import pytest

RUN = "manual__2026-12-01T10:00:00+00:00"


@pytest.fixture
def staff(db):
    from django.contrib.auth.models import User

    User.objects.filter(username="report-reader").delete()
    return User.objects.create(username="report-reader", is_staff=True, is_superuser=True)


@pytest.fixture
def run(db):
    from data_platform.suggestions import sample

    sample.insert_acteurs(db, [sample.acteur("ecosystem_r1", "Repair Café", source="ecosystem"),
                               sample.acteur("refashion_r2", "Repair Cafe", source="refashion")])
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, dag_run_id, params, status, stage_seconds) values "
                    "(%s, %s, %s, 'done', %s)", (RUN, RUN, json.dumps({"threshold": 0.75}),
                                                 json.dumps({"partitions": {"75": 0.2}})))
        cur.execute("insert into cluster_membership (run_id, cluster_id, identifiant_unique, departement) values (%s, 'k1', 'ecosystem_r1', '75'), "
                    "(%s, 'k1', 'refashion_r2', '75')", (RUN, RUN))
        cur.execute("insert into cluster_pair (run_id, cluster_id, id_a, id_b, score, details) values "
                    "(%s, 'k1', 'ecosystem_r1', 'refashion_r2', 0.93, '{}')", (RUN,))
    cohort = sample.create_cohorte(db, RUN)
    with db.cursor() as cur:
        cur.execute("update suggestion_cohorte set compteurs = %s where id = %s",
                    (json.dumps({"clusters": 1, "suggestions": 0, "skipped": {"pending": 1, "rejected": 0}}), cohort))
    db.commit()
    return cohort


def _client(user=None):
    from django.test import Client

    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def _url(**query):
    from urllib.parse import urlencode

    return "/admin/rapports/run/?" + urlencode(query)


def test_report_needs_a_login(run):
    r = _client().get(_url(run_id=RUN))
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_report_rendered_from_the_database(run, staff):
    r = _client(staff).get(_url(run_id=RUN, dag_id="cluster_acteurs"))
    assert r.status_code == 200
    page = r.content.decode()
    assert f"Rapport de clustering — <code>{RUN}</code>" in page
    assert '<script src="/admin/rapports/plotly.js"' in page and 'id="fig-scores"' in page and 'id="fig-map"' in page
    assert f'href="/admin/suggestions/suggestioncohorte/{run}/change/"' in page  # relative: no fixed host or port
    assert "127.0.0.1" not in page
    assert "0 suggestion écrite : 1 clusters ignorés — 1 déjà en attente de revue" in page
    # another département on the map: the form reloads this view
    assert '<input type="hidden" name="run_id"' in page
    assert _client(staff).get(_url(run_id=RUN, departement="13")).status_code == 200


def test_unknown_run_and_missing_parameter(run, staff):
    r = _client(staff).get(_url(run_id="manual__other", dag_id="apply_suggestions"))
    assert r.status_code == 404 and "seul <code>cluster_acteurs</code> a un rapport" in r.content.decode()
    assert _client(staff).get("/admin/rapports/run/").status_code == 400


def test_plotly_js_is_served_once_for_all_reports(db):
    r = _client().get("/admin/rapports/plotly.js")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/javascript")
    assert b"plotly.js v" in r.content[:2000] and "max-age=86400" in r["Cache-Control"]


def test_cohort_pages_link_to_the_report(run, staff):
    from urllib.parse import quote

    href = "/admin/rapports/run/?run_id=" + quote(RUN, safe="")
    c = _client(staff)
    listing = c.get("/admin/suggestions/suggestioncohorte/").content.decode()
    change = c.get(f"/admin/suggestions/suggestioncohorte/{run}/change/").content.decode()
    for page in (listing, change):
        assert f'<a href="{href}" class="lien-rapport">rapport du run</a>' in page


def test_only_airflow_may_frame_the_admin(run, staff):
    from data_platform import settings
    from data_platform.webapp.reports.framing import airflow_origin

    origin = airflow_origin()
    assert origin and settings.airflow_base_url().startswith(origin)
    for path in (_url(run_id=RUN), f"/admin/suggestions/suggestioncohorte/{run}/change/", "/admin/login/"):
        r = _client(staff).get(path)
        assert r["Content-Security-Policy"] == f"frame-ancestors 'self' {origin}", path
        assert "X-Frame-Options" not in r, path
