"""One self-contained HTML report per clustering run (inline CSS and SVG, no external asset).

Read in a few aggregate queries: the run (`cluster_run`), its cohort (`suggestion_cohorte`), cluster
sizes and per-département counts (`cluster_membership`, grouped in SQL), the score histogram (the
lowest pair score of each cluster, bucketed in SQL), the cohort's suggestions per status and its
largest clusters. Every value coming from data is HTML-escaped.

Score of a cluster = its lowest pair score, as `suggestion.score` (see suggestions/write.py).

Page order: the headline counts and links, the charts (histograms, then charts.py's sections), then the
tables (parameters, model, stage times, changes, per département: a hundred rows on a national run).
"""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from data_platform import settings
from data_platform.changes import CHANGE_TYPES
from data_platform.report import charts
from data_platform.report.html import CSS, esc, fmt_json, fmt_number, hbar, svg_bars, table
from data_platform.report.notices import zero_suggestions_warning

SCORE_BINS = 20
MAX_SIZE_BAR = 15  # sizes above are grouped in one "16+" bar
TOP_PARTITIONS = 15
TOP_SUGGESTIONS = 20
# type_action of the cohorts written at ingestion for new actors matching known ones (data_platform.match.suggest)
INGESTION_COHORT = "ingestion"


class UnknownRunError(LookupError):
    pass


def safe_run_id(run_id: str) -> str:
    """A file-name-safe form of an Airflow run id (manual__2026-01-01T00:00:00+00:00 ...)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._") or "run"


def default_path(run_id: str) -> Path:
    return Path(settings.REPORTS_DIR) / f"cluster_{safe_run_id(run_id)}.html"


# ---------------------------------------------------------------- reads


def _one(cur, query, params):
    cur.execute(query, params)
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row))


def _all(cur, query, params):
    cur.execute(query, params)
    return cur.fetchall()


def _as_dict(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def gather(conn, run_id: str, departement: str | None = None) -> dict:
    """Everything the report shows, in a few aggregate queries."""
    with conn.cursor() as cur:
        run = _one(cur, "select run_id, dag_run_id, params, status, stage_seconds, started_at, finished_at "
                        "from cluster_run where run_id = %s", (run_id,))
        cohort = _one(cur, "select id, dag_id, dag_run_id, parametres, compteurs, statut, cree_le "
                           "from suggestion_cohorte where run_id = %s", (run_id,))
        if run is None and cohort is None:
            raise UnknownRunError(f"no cluster_run and no suggestion_cohorte for run {run_id!r}")
        model = _one(cur, """
            select m.id, m.kind, m.name, m.trained_on, m.n_labels, m.cv_precision, m.cv_recall, m.created_by,
                   m.created_at, m.parameters->'info'->>'fallback' as fallback
            from cluster_run r join match_model m on m.id = r.model_id where r.run_id = %s""", (run_id,))
        sizes = _all(cur, """
            select n, count(*) from (
                select count(*) as n from cluster_membership where run_id = %s group by cluster_id
            ) t group by n order by n""", (run_id,))
        per_dep = _all(cur, """
            select departement, count(distinct cluster_id), count(*) from cluster_membership
            where run_id = %s group by departement order by departement""", (run_id,))
        scores = _all(cur, """
            select least(width_bucket(s, 0, 1, %s), %s), count(*) from (
                select min(score) as s from cluster_pair where run_id = %s group by cluster_id
            ) t group by 1 order by 1""", (SCORE_BINS, SCORE_BINS, run_id))
        statuses, top, planned = [], [], None
        if cohort is None:
            # dry run (or suggestions not written yet): what the run's changes would propose
            cur.execute("select to_regclass('dbt.cluster_changes') is not null")
            if cur.fetchone()[0]:
                rows = _all(cur, "select change_type, count(*) from dbt.cluster_changes where run_id = %s "
                                 "group by 1 order by 1", (run_id,))
                n = _all(cur, "select count(distinct cluster_id) from dbt.cluster_changes where run_id = %s",
                         (run_id,))[0][0]
                planned = {"clusters": n, "changes": dict(rows)}
        else:
            statuses = _all(cur, "select statut, count(*) from suggestion where cohorte_id = %s "
                                 "group by statut order by statut", (cohort["id"],))
            top = _all(cur, """
                select id, cluster_id, departement, taille, score, statut,
                       coalesce(contexte->'parent'->'data'->>'nom', '')
                from suggestion where cohorte_id = %s
                order by taille desc, score asc nulls first, id limit %s""", (cohort["id"], TOP_SUGGESTIONS))
        # duplicates suggested at ingestion (match index) since the previous clustering run started
        at_ingestion = _one(cur, """
            select count(s.id) as suggestions, count(distinct c.id) as cohorts
            from cluster_run r
            join suggestion_cohorte c on c.type_action = %s and c.cree_le <= coalesce(r.started_at, now())
            join suggestion s on s.cohorte_id = c.id
            where r.run_id = %s and c.run_id <> r.run_id and c.cree_le > coalesce(
                (select max(p.started_at) from cluster_run p where p.started_at < r.started_at
                 and not exists (select 1 from suggestion_cohorte pc
                                 where pc.run_id = p.run_id and pc.type_action = %s)), '-infinity')""",
                            (INGESTION_COHORT, run_id, INGESTION_COHORT)) if run else None
    from data_platform.report.national import gather_national

    data = {"run": run, "cohort": cohort, "sizes": sizes, "per_dep": per_dep, "scores": scores,
            "statuses": statuses, "top": top, "planned": planned, "model": model, "at_ingestion": at_ingestion,
            "national": gather_national(conn, run_id)}
    data["charts"] = gather_charts(conn, run_id, data, departement)
    return data


def run_threshold(data: Mapping) -> float | None:
    params = _as_dict(data["run"]["params"]) if data.get("run") else _as_dict((data.get("cohort") or {}).get("parametres"))
    value = params.get("threshold")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def gather_charts(conn, run_id: str, data: Mapping, departement: str | None = None) -> dict:
    """What the interactive sections show (charts.read_*: bulk queries over the run's tables)."""
    threshold = run_threshold(data)
    chosen = charts.choose_departement(data["per_dep"], departement)
    with conn.cursor() as cur:
        return {
            "threshold": threshold,
            "pair_scores": charts.read_pair_scores(cur, run_id),
            "departement": chosen,
            "departements": [str(d) for d, _, _ in data["per_dep"]],
            "map": charts.read_map_points(cur, run_id, chosen) if chosen else [],
            "precision_recall": charts.read_precision_recall(cur, run_id),
            "near": charts.read_near_threshold(cur, run_id, threshold) if threshold is not None else [],
            "diff": charts.read_previous_diff(cur, run_id),
        }


# ---------------------------------------------------------------- rendering


# the admin's base URL of the links of the page being rendered: the configured one (DP_ADMIN_URL) for a
# file report, the admin's own path ("/admin/") when the admin renders the page
_ADMIN_BASE: contextvars.ContextVar[str | None] = contextvars.ContextVar("report_admin_base", default=None)


def _admin(path: str, query: Mapping[str, Any] | None = None) -> str:
    base = _ADMIN_BASE.get() or settings.admin_base_url()
    url = base.rstrip("/") + "/" + path
    return url + ("?" + urlencode(query) if query else "")


REPORT_PATH = "rapports/run/"  # the admin's report view (data_platform/webapp/reports), under the admin


def report_url(run_id: str, admin_base: str | None = None) -> str:
    """The run report served by the admin (its configured base URL unless `admin_base` is given)."""
    base = admin_base or settings.admin_base_url()
    return base.rstrip("/") + "/" + REPORT_PATH + "?" + urlencode({"run_id": run_id})


def cohort_by_run_url(run_id: str, admin_base: str | None = None) -> str:
    base = admin_base or settings.admin_base_url()
    return base.rstrip("/") + "/suggestions/suggestioncohorte/par-run/?" + urlencode({"run_id": run_id})


def _link(url: str, text: str) -> str:
    return f'<a href="{esc(url)}">{esc(text)}</a>'


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _section_stages(stage_seconds: Mapping) -> str:
    rows_in = [(k, _seconds(v), v) for k, v in stage_seconds.items() if k != "partitions"]
    vmax = max((s for _, s, _ in rows_in if s is not None), default=0)
    rows = [[esc(k), fmt_number(s, 1) if s is not None else fmt_json(v), hbar(s, vmax) if s is not None else ""]
            for k, s, v in rows_in]
    total = sum(s for _, s, _ in rows_in if s is not None)
    if rows:
        rows.append(["<b>total</b>", f"<b>{fmt_number(total, 1)}</b>", ""])
    return table(["étape", "secondes", ""], rows, numeric=[1], empty="pas de temps par étape enregistré")


def _section_partitions(stage_seconds: Mapping) -> str:
    partitions = stage_seconds.get("partitions")
    if not isinstance(partitions, Mapping) or not partitions:
        return '<p class="empty">pas de temps par partition enregistré</p>'
    timed = [(str(dep), s) for dep, v in partitions.items() if (s := _seconds(v)) is not None]
    timed.sort(key=lambda kv: (-kv[1], kv[0]))
    vmax = timed[0][1] if timed else 0
    rows = [[esc(dep), fmt_number(s, 2), hbar(s, vmax)] for dep, s in timed[:TOP_PARTITIONS]]
    note = f"<p class=meta>{len(timed)} partitions, les {min(len(timed), TOP_PARTITIONS)} plus lentes :</p>"
    return note + table(["département", "secondes", ""], rows, numeric=[1])


def _size_histogram(sizes) -> str:
    buckets: dict[str, int] = {}
    for n, count in sizes:
        label = str(n) if n <= MAX_SIZE_BAR else f"{MAX_SIZE_BAR + 1}+"
        buckets[label] = buckets.get(label, 0) + count
    labels = list(buckets)
    return svg_bars(labels, [buckets[k] for k in labels], "Clusters par taille", "acteurs par cluster")


def _score_histogram(scores) -> str:
    counts = [0] * SCORE_BINS
    missing = 0
    for bucket, count in scores:
        if bucket is None:
            missing += count
        else:
            counts[max(1, min(SCORE_BINS, bucket)) - 1] += count
    labels = [f"{i / SCORE_BINS:.2f}" for i in range(SCORE_BINS)]
    svg = svg_bars(labels, counts, "Clusters par score (score minimal des paires)", "score (borne basse)")
    if missing:
        svg += f'<p class="meta">{fmt_number(missing)} cluster(s) sans score</p>'
    return svg


def render(run_id: str, data: dict, counts: Mapping | None = None, *, admin_base: str | None = None,
           plotly_src: str | None = None, map_form: Mapping[str, str] | None = None) -> str:
    """The page. `admin_base`: base of the admin links (default: the configured admin URL);
    `plotly_src`: URL of plotly.js (default: inline, a self-contained page); `map_form`: the query
    parameters that reload the page for another département (the admin's view)."""
    token = _ADMIN_BASE.set(admin_base)
    try:
        return _render(run_id, data, counts, plotly_src, map_form)
    finally:
        _ADMIN_BASE.reset(token)


def _render(run_id: str, data: dict, counts: Mapping | None, plotly_src: str | None,
            map_form: Mapping[str, str] | None) -> str:
    run, cohort = data["run"], data["cohort"]
    stage_seconds = _as_dict(run["stage_seconds"]) if run else {}
    params = _as_dict(run["params"]) if run else _as_dict(cohort["parametres"])
    if counts is not None:
        compteurs = dict(counts)
    elif cohort:
        compteurs = _as_dict(cohort["compteurs"])
    else:
        compteurs = dict(data.get("planned") or {})
    out = ["<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
           f"<title>Clustering {esc(run_id)}</title><style>{CSS}</style>",
           charts.plotly_script(plotly_src) if data.get("charts") else "", "</head><body>",
           f"<h1>Rapport de clustering — <code>{esc(run_id)}</code></h1>"]

    meta = []
    if run:
        meta += [f"statut <b>{esc(run['status'])}</b>", f"DAG run <code>{esc(run['dag_run_id'])}</code>",
                 f"début {esc(run['started_at'])}", f"fin {esc(run['finished_at'] or '—')}"]
    if run and run["status"] == "empty":
        meta.append("<b>sélection vide</b> : aucun acteur ne passe les filtres de ce run, rien n'a été regroupé")
    elif cohort:
        meta.append("cohorte " + _link(_admin(f"suggestions/suggestioncohorte/{cohort['id']}/change/"),
                                       f"#{cohort['id']}"))
    elif counts is not None:
        meta.append("<b>dry run</b> : aucune suggestion écrite")
    else:
        meta.append("aucune cohorte de suggestions pour ce run (dry run ?) : comptes tirés de "
                    "<code>dbt.cluster_changes</code>" if data.get("planned") else
                    "aucune cohorte de suggestions pour ce run")
    out.append(f'<p class="meta">{" · ".join(meta)}</p>')
    warning = zero_suggestions_warning(compteurs) if (cohort or counts is not None) else None
    if warning:
        out.append(f'<p class="warning" id="zero-suggestions"><b>Attention</b> : {esc(warning)}</p>')

    # headline numbers
    cards = [("clusters", compteurs.get("clusters")), ("suggestions", compteurs.get("suggestions")),
             ("acteurs dans les changements (parents créés inclus)", compteurs.get("acteurs")),
             ("ignorées (déjà proposées)", (compteurs.get("skipped") or {}).get("pending")),
             ("ignorées (rejetées)", (compteurs.get("skipped") or {}).get("rejected")),
             ("anciennes périmées", compteurs.get("stale")),
             ("suggérées dès l'ingestion depuis le run précédent",
              (data.get("at_ingestion") or {}).get("suggestions"))]
    out.append('<div class="cards">' + "".join(
        f'<div class="card"><b>{fmt_number(v) if v is not None else "—"}</b>{esc(k)}</div>' for k, v in cards)
        + "</div>")
    links = [_link(_admin("suggestions/suggestion/", {"cohorte__id__exact": cohort["id"]}),
                   "Suggestions de ce run dans l'admin")] if cohort else []
    links.append(_link(_admin("suggestions/suggestion/", {"statut__exact": "to_review"}),
                       "Toutes les suggestions à revoir"))
    out.append("<p>" + " · ".join(links) + "</p>")

    # the charts first, then the tables (parameters, stages, per département: a hundred rows on a national run)
    out.append("<h2>Histogrammes</h2>")
    out.append(_size_histogram(data["sizes"]))
    out.append(_score_histogram(data["scores"]))
    if data.get("charts"):
        out.append(_sections_charts(data["charts"], cohort, map_form))

    out.append("<h2>Paramètres</h2>")
    out.append(table(["paramètre", "valeur"], [[f"<code>{esc(k)}</code>", f"<code>{fmt_json(v)}</code>"]
                                              for k, v in params.items()], empty="aucun paramètre"))

    out.append("<h2>Modèle de correspondance</h2>")
    out.append(_section_model(data.get("model"), params))

    out.append("<h2>Temps par étape</h2>")
    out.append(_section_stages(stage_seconds))
    out.append("<h2>Partitions les plus lentes</h2>")
    out.append(_section_partitions(stage_seconds))

    out.append("<h2>Changements proposés</h2>")
    per_type = compteurs.get("changes") or {}
    out.append(table(["type de changement", "nombre"],
                     [[f"<code>{esc(t)}</code>", fmt_number(per_type.get(t, 0))] for t in CHANGE_TYPES]
                     + [[f"<code>{esc(t)}</code>", fmt_number(v)] for t, v in per_type.items()
                        if t not in CHANGE_TYPES],
                     numeric=[1]))
    if data["statuses"]:
        out.append("<p class=meta>Statut actuel des suggestions : " + ", ".join(
            f"{esc(s)} {fmt_number(n)}" for s, n in data["statuses"]) + "</p>")

    out.append("<h2>Par département</h2>")
    out.append(_section_departements(data["per_dep"], compteurs.get("departements") or {},
                                     stage_seconds.get("partitions"), cohort))

    from data_platform.report.national import section_national

    out.append("<h2>Doublons entre partitions</h2>")
    out.append(section_national(data.get("national"), params))

    if data["top"]:
        out.append(f"<h2>Plus grands clusters (top {TOP_SUGGESTIONS})</h2>")
        rows = [[_link(_admin(f"suggestions/suggestion/{sid}/change/"), f"#{sid}"), esc(cluster_id), esc(dep),
                 fmt_number(taille), fmt_number(score, 3) if score is not None else "—", esc(statut), esc(nom)]
                for sid, cluster_id, dep, taille, score, statut, nom in data["top"]]
        out.append(table(["suggestion", "cluster", "département", "taille", "score", "statut", "parent"], rows,
                         numeric=[3, 4]))

    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    out.append(f'<p class="meta">Généré le {esc(generated)}.</p></body></html>')
    return "\n".join(out)


def _sections_charts(c: Mapping, cohort: Mapping | None, map_form: Mapping[str, str] | None) -> str:
    """The interactive sections (data_platform.report.charts), in their reading order."""
    def suggestion_link(cluster_id: str) -> str:
        if not cohort:
            return f"<code>{esc(cluster_id)}</code>"
        return _link(_admin("suggestions/suggestion/", {"cohorte__id__exact": cohort["id"], "q": cluster_id}),
                     cluster_id)

    def run_link(other: str) -> str:
        return _link(report_url(other, _ADMIN_BASE.get()), other)

    threshold = c["threshold"]
    return "\n".join([
        "<h2>Distribution des scores</h2>", charts.section_score_distribution(c["pair_scores"], threshold),
        f"<h2>Carte d'un département : {esc(c['departement'] or '—')}</h2>",
        charts.section_departement_map(c["map"], c["departement"], c["departements"], map_form),
        "<h2>Précision et rappel selon le seuil</h2>",
        charts.section_precision_recall(c["precision_recall"], threshold),
        "<h2>Paires autour du seuil</h2>", charts.section_near_threshold(c["near"], threshold, suggestion_link),
        "<h2>Différences avec le run précédent</h2>",
        charts.section_previous_diff(c["diff"], run_link, suggestion_link),
    ])


def _section_model(model: Mapping | None, params: Mapping) -> str:
    """Which saved model scored the run (match_model), or the rules scorer."""
    if not model:
        what = ("score pondéré à règles (<code>model = rules</code>)" if params.get("model", "rules") == "rules"
                else "aucun modèle enregistré pour ce run")
        return f"<p>{what}</p>"
    fallback = model.get("fallback")
    export = f"data-platform model export {esc(model['id'])} modele.json"
    rows = [["id", f"<code>{esc(model['id'])}</code> (<code>{export}</code>)"],
            ["type", f"<code>{esc(model['kind'])}</code>"], ["nom", esc(model["name"])],
            ["appris sur", esc(model["trained_on"])], ["créé par", esc(model["created_by"])],
            ["créé le", esc(model["created_at"])], ["étiquettes", fmt_number(model["n_labels"])],
            ["précision / rappel (validation croisée)",
             " / ".join(fmt_number(v, 3) if v is not None else "—" for v in (model["cv_precision"], model["cv_recall"]))]]
    if fallback and fallback not in ("false", "False"):
        rows.append(["petites données", esc(fallback)])
    rows.append(["choix du run", f"<code>model = {esc(params.get('model', ''))}</code>"])
    return table(["", ""], rows)


def _section_departements(per_dep, suggestions: Mapping, partitions: Any, cohort) -> str:
    partitions = partitions if isinstance(partitions, Mapping) else {}
    clusters = {dep: (nc, na) for dep, nc, na in per_dep}
    deps = sorted(set(clusters) | set(suggestions) | set(map(str, partitions)))
    rows = []
    for dep in deps:
        nc, na = clusters.get(dep, (0, 0))
        n_sugg = suggestions.get(dep, 0)
        cell = fmt_number(n_sugg)
        if cohort and n_sugg:
            cell = _link(_admin("suggestions/suggestion/", {"cohorte__id__exact": cohort["id"], "departement": dep}),
                         str(n_sugg))
        seconds = _seconds(partitions.get(dep))
        rows.append([esc(dep), fmt_number(nc), fmt_number(na), cell,
                     fmt_number(seconds, 2) if seconds is not None else "—"])
    return table(["département", "clusters", "acteurs regroupés", "suggestions", "secondes"], rows,
                 numeric=[1, 2, 3, 4])


def write_report(conn, run_id: str, path: str | os.PathLike | None = None, *,
                 counts: Mapping | None = None) -> Path:
    """Write the run's HTML report and return its path.

    Default path: `settings.REPORTS_DIR / cluster_<safe run id>.html`. `counts` (what
    `write_suggestions` returned) replaces the cohort's stored counts, e.g. for a dry run that wrote
    no cohort. The path is recorded in `suggestion_cohorte.rapport_path` and `cluster_run.report_path`
    (committed on `conn`).
    """
    target = Path(path) if path is not None else default_path(run_id)
    page = render(run_id, gather(conn, run_id), counts)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    with conn:
        with conn.cursor() as cur:
            cur.execute("update suggestion_cohorte set rapport_path = %s where run_id = %s", (str(target), run_id))
            cur.execute("update cluster_run set report_path = %s where run_id = %s", (str(target), run_id))
    return target
