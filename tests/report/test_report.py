"""The per-run HTML report: written, self-contained, escaped, with its counts."""
import json
import re

import pytest

from data_platform import settings
from data_platform.report import UnknownRunError, default_path, safe_run_id, write_report

RUN = "manual__2026-11-22T00:00:00+00:00"
EVIL = "<script>alert('x')</script>"
COUNTS = {
    "clusters": 3, "suggestions": 2, "acteurs": 5,
    "changes": {"acteur_create_as_parent": 1, "acteur_keep_as_parent": 1, "acteur_update_parent_id": 3,
                "acteur_verify_in_revision": 0, "acteur_delete_as_parent": 0},
    "departements": {"2A": 1, "971": 1}, "skipped": {"pending": 1, "rejected": 0}, "stale": 0,
}


@pytest.fixture
def run(db):
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, dag_run_id, params, status, stage_seconds) "
                    "values (%s, %s, %s, 'success', %s)",
                    (RUN, RUN, json.dumps({"threshold": 0.8, "nom_regex": "<b>garage</b>"}),
                     json.dumps({"select": 2.5, "cluster": 10.25, "suggest": 0.75,
                                 "partitions": {"2A": 7.5, "971": 0.5, EVIL: 1.0}})))
        cur.executemany("insert into cluster_membership (run_id, cluster_id, identifiant_unique, departement) "
                        "values (%s, %s, %s, %s)",
                        [(RUN, "k1", "a1", "2A"), (RUN, "k1", "a2", "2A"),
                         (RUN, "k2", "b1", "971"), (RUN, "k2", "b2", "971"), (RUN, "k2", "b3", "971"),
                         (RUN, "k3", "c1", "971"), (RUN, "k3", "c2", "971")])
        cur.executemany("insert into cluster_pair (run_id, cluster_id, id_a, id_b, score, details) "
                        "values (%s, %s, %s, %s, %s, '{}')",
                        [(RUN, "k1", "a1", "a2", 0.92), (RUN, "k2", "b1", "b2", 0.81), (RUN, "k2", "b1", "b3", 0.77),
                         (RUN, "k3", "c1", "c2", 0.99)])
        cur.execute("insert into suggestion_cohorte (run_id, dag_id, dag_run_id, parametres, compteurs) "
                    "values (%s, 'cluster_acteurs', %s, '{}', %s) returning id", (RUN, RUN, json.dumps(COUNTS)))
        cohorte_id = cur.fetchone()[0]
        for cluster_id, dep, taille, score, nom in [("k1", "2A", 3, 0.92, EVIL), ("k2", "971", 4, 0.77, "Garage & Fils")]:
            cur.execute("insert into suggestion (cohorte_id, cluster_id, score, departement, taille, empreinte_membres, "
                        "empreinte_donnees, changes, contexte) values (%s, %s, %s, %s, %s, 'm', 'd', '[]', %s)",
                        (cohorte_id, cluster_id, score, dep, taille,
                         json.dumps({"parent": {"data": {"nom": nom}}})))
    db.commit()
    return cohorte_id


def test_report_is_written_self_contained_escaped_and_counted(run, db, tmp_path):
    path = write_report(db, RUN, tmp_path / "r.html")
    assert path == tmp_path / "r.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")

    # self-contained: no external asset (stylesheet, script, image, font); links only to the admin.
    # The only scripts are plotly.js, inline, and one per figure, whose JSON escapes < and / (\u003c):
    # outside them the page is checked as before
    scripts = re.findall(r"<script\b[^>]*>.*?</script>", page, re.DOTALL)
    assert scripts[0].startswith('<script charset="utf-8">') and "plotly.js" in scripts[0][:2000]
    assert all(re.match(r"<script>\s*window\.PLOTLYENV", f) for f in scripts[1:]) and len(scripts) >= 2
    assert all(f.count("<") == 2 for f in scripts[1:])  # the tags themselves: no markup from the data
    page = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.DOTALL)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.replace(settings.admin_base_url(), ""))
    assert "<link" not in page and "<img" not in page and "@import" not in page and "url(" not in page
    assert re.search(r"<script", page) is None  # nothing from the data became markup
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;garage&lt;/b&gt;" in page and "Garage &amp; Fils" in page
    assert "<svg" in page and "<rect" in page

    # counts per change type and per département
    assert re.search(r"<code>acteur_update_parent_id</code></td><td class=num>3</td>", page)
    assert re.search(r"<code>acteur_create_as_parent</code></td><td class=num>1</td>", page)
    deps = page.split("Par département")[1].split("<h2>")[0]
    row_2a = re.search(r"<tr><td>2A</td>(.*?)</tr>", deps).group(1)
    assert [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row_2a)] == ["1", "2", "1", "7.50"]
    row_971 = re.search(r"<tr><td>971</td>(.*?)</tr>", deps).group(1)
    assert [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row_971)] == ["2", "5", "1", "0.50"]
    # stage seconds, slowest partitions first
    assert re.search(r"<td>cluster</td><td class=num>10\.[23]</td>", page)
    assert re.search(r"<td><b>total</b></td><td class=num><b>13\.5</b></td>", page)
    slow = page.split("Partitions les plus lentes")[1].split("<h2>")[0]
    assert slow.index(">2A<") < slow.index(">971<")
    # histograms: sizes 2 (x2) and 3 (x1); admin links to the cohort and its suggestions
    assert "<title>2 : 2</title>" in page and "<title>3 : 1</title>" in page
    assert f"suggestions/suggestioncohorte/{run}/change/" in page
    assert f"suggestions/suggestion/?cohorte__id__exact={run}" in page

    with db.cursor() as cur:
        cur.execute("select rapport_path from suggestion_cohorte")
        assert cur.fetchone()[0] == str(path)
        cur.execute("select report_path from cluster_run")
        assert cur.fetchone()[0] == str(path)


def test_default_path_and_missing_partitions(db, tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "REPORTS_DIR", tmp_path / "reports")
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, params, stage_seconds) values ('scheduled/1 x', '{}', '{}')")
    db.commit()
    path = write_report(db, "scheduled/1 x", counts={"clusters": 0, "suggestions": 0})
    assert path == tmp_path / "reports" / "cluster_scheduled_1_x.html"
    assert safe_run_id(RUN) == "manual__2026-11-22T00_00_00_00_00"
    assert default_path(RUN).name == "cluster_manual__2026-11-22T00_00_00_00_00.html"
    page = path.read_text(encoding="utf-8")
    assert "pas de temps par partition enregistré" in page and "dry run" in page


def test_unknown_run(db, tmp_path):
    with pytest.raises(UnknownRunError):
        write_report(db, "nope", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_run_without_cohort_counts_the_planned_changes(db, tmp_path):
    with db.cursor() as cur:
        cur.execute("insert into cluster_run (run_id, params) values ('dry', '{\"dry_run\": true}')")
        cur.execute("create schema if not exists dbt; create table dbt.cluster_changes (run_id text, cluster_id text, "
                    "identifiant_unique text, change_type text, change_order int, parent_id text, data jsonb, "
                    "origine jsonb)")
        cur.execute("insert into dbt.cluster_changes (run_id, cluster_id, identifiant_unique, change_type) values "
                    "('dry', 'k1', 'p', 'acteur_create_as_parent'), ('dry', 'k1', 'a', 'acteur_update_parent_id'), "
                    "('dry', 'k1', 'b', 'acteur_update_parent_id'), ('other', 'k9', 'z', 'acteur_delete_as_parent')")
    db.commit()
    page = write_report(db, "dry", tmp_path / "dry.html").read_text(encoding="utf-8")
    assert "aucune cohorte de suggestions pour ce run (dry run ?)" in page
    assert re.search(r"<code>acteur_update_parent_id</code></td><td class=num>2</td>", page)
    assert re.search(r"<code>acteur_delete_as_parent</code></td><td class=num>0</td>", page)
    assert '<div class="card"><b>1</b>clusters</div>' in page
