"""The report's interactive sections on a crafted pair of runs: score distribution with the threshold,
the département map and name projection, precision/recall against the ground truth, the pairs around
the threshold, the difference from the previous run, and the 0-suggestion warning."""
from __future__ import annotations

import json
import re

from data_platform.report import charts
from data_platform.report.notices import zero_suggestions_warning
from data_platform.report.run_report import gather, render
from data_platform.suggestions import sample

PREV, CUR = "manual__prev", "manual__cur"
ACTEURS = [  # ident, nom, latitude, longitude, entity
    ("ecosystem_a1", "Repair Café Belleville", 48.872, 2.378, "E1"),
    ("refashion_a2", "Repair Cafe Belleville", 48.8721, 2.3781, "E1"),
    ("cma_b1", "Cordonnerie du Marché", 48.85, 2.35, "E2"),
    ("sinoe_b2", "Cordonnerie Marché", 48.8501, 2.3501, "E2"),
    ("ecomaison_b3", "Boulangerie Martin", 48.86, 2.34, "E3"),  # wrongly put with b1/b2 by CUR
    ("corepile_c1", "Déchèterie Paris 20", 48.86, 2.40, "E4"),
    ("batribox_c2", "Decheterie Paris 20", 48.8601, 2.4001, "E4"),
    ("aliapur_d1", "Garage Dupont", 45.76, 4.83, "E5"),
    ("cyclevia_d2", "Garage Dupont SARL", 45.7601, 4.8301, "E5"),
]
# PREV: {a1,a2} {b1,b2} {c1,c2} in 75, {d1,d2} in 69 ; CUR: {a1,a2} same, {b1,b2,b3} changed, {c1,c2} gone,
# {d1,d2} in 69 (not a département of PREV's partitions there: not compared)
MEMBERS = {
    PREV: [("p1", "a1", "75"), ("p1", "a2", "75"), ("p2", "b1", "75"), ("p2", "b2", "75"),
           ("p3", "c1", "75"), ("p3", "c2", "75")],
    CUR: [("k1", "a1", "75"), ("k1", "a2", "75"), ("k2", "b1", "75"), ("k2", "b2", "75"), ("k2", "b3", "75"),
          ("k4", "d1", "69"), ("k4", "d2", "69")],
}
PAIRS = {
    PREV: [("p1", "a1", "a2", 0.95), ("p2", "b1", "b2", 0.9), ("p3", "c1", "c2", 0.85)],
    CUR: [("k1", "a1", "a2", 0.97), ("k2", "b1", "b2", 0.91), ("k2", "b1", "b3", 0.72), ("k2", "b2", "b3", 0.79),
          ("k4", "d1", "d2", 0.88)],
}
FULL = {a[0].split("_", 1)[1]: a[0] for a in ACTEURS}


def _load(db, counts: dict):
    sample.insert_acteurs(db, [sample.acteur(i, n, source=i.split("_")[0], latitude=lat, longitude=lon)
                               for i, n, lat, lon, _ in ACTEURS])
    with db.cursor() as cur:
        cur.executemany("insert into ground_truth (identifiant_unique, entity_id, kind) values (%s, %s, 'acteur')",
                        [(i, e) for i, _, _, _, e in ACTEURS])
        for run, started, partitions in ((PREV, "2026-11-01", {"75": 1.0}), (CUR, "2026-11-02", {"75": 1.0, "69": 0.5})):
            cur.execute("insert into cluster_run (run_id, dag_run_id, params, status, stage_seconds, started_at) "
                        "values (%s, %s, %s, 'done', %s, %s)",
                        (run, run, json.dumps({"threshold": 0.8}), json.dumps({"partitions": partitions}), started))
            cur.executemany("insert into cluster_membership (run_id, cluster_id, identifiant_unique, departement) "
                            "values (%s, %s, %s, %s)", [(run, c, FULL[i], d) for c, i, d in MEMBERS[run]])
            cur.executemany("insert into cluster_pair (run_id, cluster_id, id_a, id_b, score, details) "
                            "values (%s, %s, %s, %s, %s, '{\"matched\": [\"nom\"]}')",
                            [(run, c, FULL[a], FULL[b], s) for c, a, b, s in PAIRS[run]])
        cur.execute("insert into suggestion_cohorte (run_id, dag_id, dag_run_id, parametres, compteurs) "
                    "values (%s, 'cluster_acteurs', %s, '{}', %s) returning id", (CUR, CUR, json.dumps(counts)))
        cohort = cur.fetchone()[0]
    db.commit()
    return cohort


def test_sections_read_the_runs_exactly(db):
    _load(db, {"clusters": 3, "suggestions": 3})
    with db.cursor() as cur:
        scores = charts.read_pair_scores(cur, CUR)
        assert sum(n for _, n in scores["pairs"]) == 5 and sum(n for _, n in scores["clusters"]) == 3
        # the weakest pair of k2 (0.72) is bucket 37 of 50
        assert dict(scores["clusters"])[37] == 1

        per_dep = [("69", 1, 2), ("75", 2, 5)]
        assert charts.choose_departement(per_dep) == "75" and charts.choose_departement(per_dep, "69") == "69"
        assert charts.choose_departement(per_dep, "13") == "75"
        points = charts.read_map_points(cur, CUR, "75")
        assert [(p[0], p[1]) for p in points] == [("k1", "ecosystem_a1"), ("k1", "refashion_a2"), ("k2", "cma_b1"),
                                                  ("k2", "ecomaison_b3"), ("k2", "sinoe_b2")]
        assert points[0][2] == "Repair Café Belleville" and points[0][3] == 48.872
        xy = charts.name_projection([p[2] for p in points])
        assert xy.shape == (5, 2)

        pr = charts.read_precision_recall(cur, CUR)
        # universe = CUR's clustered actors (no dbt selection): E1 1 pair, E2 1 pair, E5 1 pair
        assert pr["universe"] == "membership" and pr["true_pairs"] == 3
        curve = {t: (p, r, n) for t, p, r, n in charts.precision_recall_curve(pr)}
        assert curve[0.8] == (1.0, 1.0, 3)            # a1a2, b1b2, d1d2: all true, all found
        assert curve[0.72] == (0.6, 1.0, 5)           # + the two wrong b3 pairs
        assert curve[0.9] == (1.0, round(2 / 3, 4), 2)

        near = charts.read_near_threshold(cur, CUR, 0.8, n=2)
        assert [(side, float(score)) for side, score, *_ in near] == [
            ("above", 0.91), ("above", 0.88), ("below", 0.79), ("below", 0.72)]
        assert near[2][4] == "Cordonnerie Marché" and near[2][6] == "Boulangerie Martin"

        diff = charts.read_previous_diff(cur, CUR)
    db.commit()
    assert diff["previous"] == PREV and diff["departements"] == 1  # 75 only: 69 is not one of PREV's
    kinds = diff["kinds"]
    assert kinds["identical"]["now"] == 1 and kinds["identical"]["before"] == 1
    assert kinds["changed"]["now"] == 1 and kinds["changed"]["examples_now"] == ["k2"]
    assert kinds["changed"]["before"] == 1
    assert kinds["gone"]["before"] == 1 and kinds["gone"]["examples_before"] == ["p3"]
    assert "new" not in kinds  # k4 is in 69


def test_rendered_report_has_the_figures_and_relative_admin_links(db):
    cohort = _load(db, {"clusters": 3, "suggestions": 3})
    page = render(CUR, gather(db, CUR, departement="75"), admin_base="/admin/", plotly_src="/admin/rapports/plotly.js",
                  map_form={"run_id": CUR})
    db.commit()
    for div in ("fig-scores", "fig-map", "fig-names", "fig-pr", "fig-diff"):
        assert f'id="{div}"' in page, div
    # the charts come before the long tables (parameters, per département), not after them (issue 10)
    tables = min(page.index(f"<h2>{h}</h2>") for h in ("Paramètres", "Temps par étape", "Par département"))
    charts_at = [page.index("<h2>Histogrammes</h2>")] + [page.index(f'id="{d}"') for d in ("fig-scores", "fig-diff")]
    assert max(charts_at) < tables
    assert '<script src="/admin/rapports/plotly.js"' in page and "plotly.js v" not in page  # one shared script
    assert 'name="departement"' in page and f'<input type="hidden" name="run_id" value="{CUR}">' in page
    # links relative to the admin that renders the page, none to a fixed host or port
    assert f'href="/admin/suggestions/suggestioncohorte/{cohort}/change/"' in page
    assert "127.0.0.1" not in page and "localhost" not in page
    assert "seuil 0.8" in page and "Boulangerie Martin" in page
    assert 'id="zero-suggestions"' not in page


def test_zero_suggestions_says_why(db):
    counts = {"clusters": 622, "suggestions": 0, "skipped": {"pending": 620, "rejected": 2}}
    message = zero_suggestions_warning(counts)
    assert message == ("0 suggestion écrite : 622 clusters ignorés — 620 déjà en attente de revue (mêmes membres, "
                       "mêmes données), 2 déjà rejetés (mêmes membres, mêmes données).")
    assert zero_suggestions_warning({**counts, "dry_run": True}) is None
    assert zero_suggestions_warning({"clusters": 3, "suggestions": 1}) is None
    assert "aucun cluster" in zero_suggestions_warning({"clusters": 0, "suggestions": 0})
    _load(db, counts)
    page = render(CUR, gather(db, CUR))
    db.commit()
    assert re.search(r'id="zero-suggestions"><b>Attention</b> : 0 suggestion écrite : 622 clusters ignorés', page)
