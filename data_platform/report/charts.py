"""Interactive sections of the run report (plotly, no CDN): each section is a `read_*` function (a few
bulk queries over the run's tables) and a `section_*` function (HTML from what was read).

- score distribution of the run's scored pairs, with the threshold;
- a 2-D map of one département's actors coloured by cluster (coordinates), and a projection of their
  names (TF-IDF of character n-grams, TruncatedSVD to 2 dimensions);
- precision / recall over thresholds of the stored pairs, when the ground truth covers the run;
- the pairs just below and just above the threshold;
- the difference from the previous run (clusters identical / new / changed / gone).

Figures get fixed div ids (deterministic output); plotly.js itself is included once by the page
(`plotly_script`): inline for a file report, one shared script served by the admin otherwise.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from data_platform.report.html import esc, fmt_number, table

PAIR_BINS = 50
MAP_MAX_POINTS = 4000
NEAR_PAIRS = 10
DIFF_EXAMPLES = 10



# ---------------------------------------------------------------- plotly plumbing


def plotly_script(src: str | None) -> str:
    """The page's one plotly.js: inline (src None, a self-contained file) or a script URL."""
    if src:
        return f'<script src="{esc(src)}" charset="utf-8"></script>'
    from plotly.offline import get_plotlyjs

    return f'<script charset="utf-8">{get_plotlyjs()}</script>'


def figure_html(fig, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 50, "r": 20, "t": 50, "b": 45}, height=380)
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _rows(cur, query: str, params: Sequence) -> list[tuple]:
    cur.execute(query, params)
    return cur.fetchall()


# ---------------------------------------------------------------- score distribution


def read_pair_scores(cur, run_id: str) -> dict:
    """Histogram (PAIR_BINS buckets over [0, 1]) of every stored pair's score and of every cluster's
    weakest pair (the suggestion's score)."""
    pairs = _rows(cur, """
        select least(width_bucket(score, 0, 1, %s), %s), count(*) from cluster_pair
        where run_id = %s and score is not null group by 1 order by 1""", (PAIR_BINS, PAIR_BINS, run_id))
    clusters = _rows(cur, """
        select least(width_bucket(s, 0, 1, %s), %s), count(*) from (
            select min(score) as s from cluster_pair where run_id = %s group by cluster_id) t
        where s is not null group by 1 order by 1""", (PAIR_BINS, PAIR_BINS, run_id))
    return {"pairs": pairs, "clusters": clusters}


def _bucket_counts(rows) -> list[int]:
    counts = [0] * PAIR_BINS
    for bucket, n in rows:
        counts[max(1, min(PAIR_BINS, int(bucket))) - 1] += int(n)
    return counts


def section_score_distribution(scores: Mapping, threshold: float | None) -> str:
    import plotly.graph_objects as go

    pairs, clusters = _bucket_counts(scores["pairs"]), _bucket_counts(scores["clusters"])
    if not any(pairs):
        return _empty("aucune paire notée dans ce run")
    x = [(i + 0.5) / PAIR_BINS for i in range(PAIR_BINS)]
    fig = go.Figure([
        go.Bar(x=x, y=pairs, width=1 / PAIR_BINS, name="paires dans les clusters",
               hovertemplate="score %{x:.2f} : %{y} paires<extra></extra>"),
        go.Bar(x=x, y=clusters, width=1 / PAIR_BINS, name="clusters (paire la plus faible)", opacity=0.6,
               hovertemplate="score %{x:.2f} : %{y} clusters<extra></extra>"),
    ])
    fig.update_layout(barmode="overlay", title="Distribution des scores", xaxis_title="probabilité de correspondance",
                      yaxis_title="nombre", xaxis_range=[0, 1], legend={"orientation": "h", "y": -0.2})
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="#d64545",
                      annotation_text=f"seuil {threshold:g}", annotation_position="top left")
    return figure_html(fig, "fig-scores")


# ---------------------------------------------------------------- a département's map


def choose_departement(per_dep: Sequence[tuple], wanted: str | None = None) -> str | None:
    """The asked département if the run clustered actors there, else the one with most clustered actors
    (ties: the smallest code)."""
    codes = {str(d): int(n) for d, _, n in per_dep}
    if wanted and wanted in codes:
        return wanted
    return min(codes, key=lambda d: (-codes[d], d)) if codes else None


def read_map_points(cur, run_id: str, departement: str) -> list[tuple]:
    """(cluster_id, identifiant_unique, nom, latitude, longitude) of the département's clustered actors
    (their revision's name and coordinates when set); at most MAP_MAX_POINTS, whole clusters first."""
    return _rows(cur, """
        with m as (
            select cluster_id, identifiant_unique from cluster_membership
            where run_id = %s and departement = %s
            order by cluster_id, identifiant_unique limit %s)
        select m.cluster_id, m.identifiant_unique,
               coalesce(nullif(r.nom, ''), a.nom, '') as nom,
               coalesce(r.latitude, a.latitude) as latitude, coalesce(r.longitude, a.longitude) as longitude
        from m left join acteur a using (identifiant_unique)
               left join revision_acteur r using (identifiant_unique)
        order by m.cluster_id, m.identifiant_unique""", (run_id, departement, MAP_MAX_POINTS))


def name_projection(names: Sequence[str]):
    """2-D coordinates of the names: TF-IDF of character 2-4-grams, TruncatedSVD (fixed seed)."""
    import numpy as np
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [(n or "").lower() for n in names]
    if len(texts) < 3 or not any(texts):
        return None
    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=1).fit_transform(texts)
    if matrix.shape[1] < 3:
        return None
    xy = TruncatedSVD(n_components=2, random_state=0).fit_transform(matrix)
    return np.round(xy, 5)


def section_departement_map(points: Sequence[tuple], departement: str | None, choices: Sequence[str] = (),
                            form: Mapping[str, str] | None = None) -> str:
    """`form`: the page's query parameters (run_id...) when the page can be reloaded for another
    département (the admin's view); None in a file report."""
    import plotly.graph_objects as go

    out = []
    if form is not None and choices:
        options = "".join(f'<option value="{esc(d)}"{" selected" if d == departement else ""}>{esc(d)}</option>'
                          for d in choices)
        hidden = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in form.items())
        out.append(f'<form method="get" class="meta" id="map-form">'
                   f'{hidden}<label>Département <select name="departement" '
                   f'onchange="this.form.submit()">{options}</select></label> '
                   '<noscript><button>voir</button></noscript></form>')
    if not points:
        return "".join(out) + _empty("aucun acteur regroupé dans ce département")
    clusters = sorted({p[0] for p in points})
    colour = {c: i for i, c in enumerate(clusters)}
    text = [f"{esc(nom)}<br>{esc(ident)}<br>cluster {esc(cid)}" for cid, ident, nom, _, _ in points]
    geo = [(p, t) for p, t in zip(points, text) if p[3] is not None and p[4] is not None]
    note = f"{len(points)} acteurs dans {len(clusters)} clusters"
    if len(points) >= MAP_MAX_POINTS:
        note += f" (les {MAP_MAX_POINTS} premiers)"
    out.append(f'<p class="meta">{esc(note)} ; une couleur par cluster.</p>')
    if geo:
        fig = go.Figure(go.Scattergl(
            x=[p[4] for p, _ in geo], y=[p[3] for p, _ in geo], mode="markers", text=[t for _, t in geo],
            hovertemplate="%{text}<extra></extra>",
            marker={"color": [colour[p[0]] for p, _ in geo], "colorscale": "Turbo", "size": 8,
                    "line": {"width": 0.5, "color": "#333"}}))
        fig.update_layout(title=f"Acteurs regroupés du département {esc(departement)} (coordonnées)",
                          xaxis_title="longitude", yaxis_title="latitude", yaxis_scaleanchor="x",
                          yaxis_scaleratio=1.4)
        out.append(figure_html(fig, "fig-map"))
    else:
        out.append(_empty("aucune coordonnée pour ces acteurs"))
    xy = name_projection([p[2] for p in points])
    if xy is not None:
        fig = go.Figure(go.Scattergl(
            x=xy[:, 0], y=xy[:, 1], mode="markers", text=text, hovertemplate="%{text}<extra></extra>",
            marker={"color": [colour[p[0]] for p in points], "colorscale": "Turbo", "size": 8,
                    "line": {"width": 0.5, "color": "#333"}}))
        fig.update_layout(title="Projection des noms (TF-IDF de n-grammes de caractères, SVD tronquée)",
                          xaxis_title="composante 1", yaxis_title="composante 2")
        out.append(figure_html(fig, "fig-names"))
    return "".join(out)


# ---------------------------------------------------------------- precision / recall


def read_precision_recall(cur, run_id: str) -> dict | None:
    """Per score bucket, stored pairs and true pairs (both actors of one ground-truth entity), and the
    number of true pairs among the run's actors; None without ground truth for them.

    Universe: the run's selection when `dbt.cluster_selection` still holds this run, else the run's
    clustered actors (then the recall only counts pairs the run put in some cluster)."""
    cur.execute("select exists (select 1 from ground_truth)")
    if not cur.fetchone()[0]:
        return None
    cur.execute("select to_regclass('dbt.cluster_run_params') is not null "
                "and to_regclass('dbt.cluster_selection') is not null")
    universe = "membership"
    if cur.fetchone()[0]:
        cur.execute("select run_id from dbt.cluster_run_params limit 1")
        row = cur.fetchone()
        universe = "selection" if row and row[0] == run_id else universe
    ids = ("select identifiant_unique from dbt.cluster_selection" if universe == "selection" else
           "select identifiant_unique from cluster_membership where run_id = %(run)s")
    cur.execute(f"""
        select coalesce(sum(n * (n - 1) / 2), 0)::bigint, count(*) from (
            select g.entity_id, count(*) as n
            from (select distinct on (identifiant_unique) identifiant_unique, entity_id from ground_truth
                  order by identifiant_unique, entity_id) g
            join ({ids}) u using (identifiant_unique) group by g.entity_id) t""", {"run": run_id})
    true_pairs, entities = cur.fetchone()
    if not entities:
        return None
    buckets = _rows(cur, """
        with g as (select distinct on (identifiant_unique) identifiant_unique, entity_id from ground_truth
                   order by identifiant_unique, entity_id)
        select least(width_bucket(p.score, 0, 1, %s), %s), count(*),
               count(*) filter (where ga.entity_id = gb.entity_id)
        from cluster_pair p left join g ga on ga.identifiant_unique = p.id_a
                            left join g gb on gb.identifiant_unique = p.id_b
        where p.run_id = %s and p.score is not null group by 1 order by 1""", (PAIR_BINS, PAIR_BINS, run_id))
    return {"true_pairs": int(true_pairs), "buckets": buckets, "universe": universe}


def precision_recall_curve(pr: Mapping) -> list[tuple[float, float, float, int]]:
    """(threshold, precision, recall, pairs kept) for each bucket's lower bound, keeping pairs ≥ it."""
    stored, true = [0] * PAIR_BINS, [0] * PAIR_BINS
    for bucket, n, ok in pr["buckets"]:
        b = max(1, min(PAIR_BINS, int(bucket))) - 1
        stored[b] += int(n)
        true[b] += int(ok)
    out, kept, hits = [], 0, 0
    for b in range(PAIR_BINS - 1, -1, -1):
        kept += stored[b]
        hits += true[b]
        if kept:
            recall = hits / pr["true_pairs"] if pr["true_pairs"] else 1.0
            out.append((round(b / PAIR_BINS, 4), round(hits / kept, 4), round(recall, 4), kept))
    return out[::-1]


def section_precision_recall(pr: Mapping | None, threshold: float | None) -> str:
    import plotly.graph_objects as go

    if pr is None:
        return _empty("pas de vérité terrain (table ground_truth) pour les acteurs de ce run")
    curve = precision_recall_curve(pr)
    if not curve:
        return _empty("aucune paire notée dans ce run")
    t = [c[0] for c in curve]
    fig = go.Figure([
        go.Scatter(x=t, y=[c[1] for c in curve], mode="lines+markers", name="précision",
                   hovertemplate="seuil %{x:.2f} : précision %{y:.3f}<extra></extra>"),
        go.Scatter(x=t, y=[c[2] for c in curve], mode="lines+markers", name="rappel",
                   hovertemplate="seuil %{x:.2f} : rappel %{y:.3f}<extra></extra>"),
    ])
    fig.update_layout(title="Précision et rappel des paires selon le seuil", xaxis_title="seuil",
                      yaxis_title="", yaxis_range=[0, 1.02], xaxis_range=[0, 1],
                      legend={"orientation": "h", "y": -0.2})
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="#d64545",
                      annotation_text=f"seuil {threshold:g}", annotation_position="bottom left")
    universe = ("la sélection du run" if pr["universe"] == "selection"
                else "les acteurs regroupés du run (la sélection n'est plus disponible)")
    note = (f'<p class="meta">Paires enregistrées (dans un cluster) gardées au-dessus de chaque seuil, contre '
            f'{fmt_number(pr["true_pairs"])} paires vraies parmi {esc(universe)}. Sous le seuil du run, seules '
            "les paires restées dans un cluster sont connues : la courbe n'y est qu'indicative.</p>")
    return figure_html(fig, "fig-pr") + note


# ---------------------------------------------------------------- pairs around the threshold


def read_near_threshold(cur, run_id: str, threshold: float, n: int = NEAR_PAIRS) -> list[tuple]:
    """The n stored pairs just below and the n just above the threshold, with both names:
    (side, score, cluster_id, id_a, nom_a, id_b, nom_b, matched)."""
    return _rows(cur, """
        with near as (
            (select 'below' as side, * from cluster_pair where run_id = %(run)s and score < %(t)s
             order by score desc, cluster_id, id_a, id_b limit %(n)s)
            union all
            (select 'above', * from cluster_pair where run_id = %(run)s and score >= %(t)s
             order by score, cluster_id, id_a, id_b limit %(n)s))
        select near.side, near.score, near.cluster_id,
               near.id_a, coalesce(nullif(ra.nom, ''), aa.nom, ''),
               near.id_b, coalesce(nullif(rb.nom, ''), ab.nom, ''),
               coalesce(near.details -> 'matched', '[]'::jsonb)
        from near left join acteur aa on aa.identifiant_unique = near.id_a
                  left join revision_acteur ra on ra.identifiant_unique = near.id_a
                  left join acteur ab on ab.identifiant_unique = near.id_b
                  left join revision_acteur rb on rb.identifiant_unique = near.id_b
        order by near.score desc, near.cluster_id, near.id_a, near.id_b""",
                 {"run": run_id, "t": threshold, "n": n})


def section_near_threshold(rows: Sequence[tuple], threshold: float | None, suggestion_link: Callable[[str], str]) -> str:
    if threshold is None:
        return _empty("pas de seuil pour ce run")
    if not rows:
        return _empty("aucune paire notée dans ce run")
    body, marked = [], False
    for side, score, cid, ida, noma, idb, nomb, matched in rows:
        if side == "below" and not marked:
            body.append([f"<b>— seuil {esc(f'{threshold:g}')} —</b>", "", "", "", ""])
            marked = True
        matched = ", ".join(map(str, matched)) if isinstance(matched, list) else esc(matched)
        body.append([fmt_number(float(score), 3), suggestion_link(cid),
                     f"{esc(noma)}<br><code>{esc(ida)}</code>", f"{esc(nomb)}<br><code>{esc(idb)}</code>",
                     esc(matched)])
    if not marked:
        body.append([f"<b>— seuil {esc(f'{threshold:g}')} —</b>", "", "", "", ""])
    return ('<p class="meta">Les paires enregistrées les plus proches du seuil, de part et d\'autre (une paire '
            "sous le seuil est dans un cluster par transitivité).</p>"
            + table(["score", "cluster", "acteur A", "acteur B", "champs concordants"], body, numeric=[0]))


# ---------------------------------------------------------------- difference from the previous run


def read_previous_diff(cur, run_id: str) -> dict | None:
    """Clusters of this run against the previous finished run (by start time), over the départements
    both runs clustered: identical member sets, changed (sharing an actor with a previous cluster),
    new, and previous clusters gone (no actor in any cluster now). None without a previous run."""
    cur.execute("""
        select p.run_id, p.started_at from cluster_run c join cluster_run p
          on p.started_at < c.started_at and p.status = 'done' and p.run_id <> c.run_id
        where c.run_id = %s order by p.started_at desc, p.run_id desc limit 1""", (run_id,))
    row = cur.fetchone()
    if row is None:
        return None
    previous, previous_started = row
    cur.execute("""
        with deps as (
            select jsonb_object_keys(coalesce(stage_seconds -> 'partitions', '{}'::jsonb)) as d
            from cluster_run where run_id = %(cur)s
            intersect
            select jsonb_object_keys(coalesce(stage_seconds -> 'partitions', '{}'::jsonb))
            from cluster_run where run_id = %(prev)s),
        m as (
            select run_id, cluster_id, identifiant_unique from cluster_membership
            where run_id in (%(cur)s, %(prev)s) and departement in (select d from deps)),
        k as (
            select run_id, cluster_id, string_agg(identifiant_unique, '|' order by identifiant_unique) as members
            from m group by run_id, cluster_id),
        touched as (  -- clusters sharing an actor with a cluster of the other run
            select distinct a.run_id, a.cluster_id from m a
            join m b on b.identifiant_unique = a.identifiant_unique and b.run_id <> a.run_id),
        same as (select members from k group by members having count(distinct run_id) = 2),
        classified as (
            select k.run_id, k.cluster_id,
                   case when s.members is not null then 'identical'
                        when t.cluster_id is not null then 'changed'
                        when k.run_id = %(cur)s then 'new' else 'gone' end as kind
            from k left join same s on s.members = k.members
                   left join touched t on t.run_id = k.run_id and t.cluster_id = k.cluster_id)
        select kind, count(*) filter (where run_id = %(cur)s), count(*) filter (where run_id = %(prev)s),
               (array_agg(cluster_id order by cluster_id) filter (where run_id = %(cur)s))[1:%(n)s],
               (array_agg(cluster_id order by cluster_id) filter (where run_id = %(prev)s))[1:%(n)s]
        from classified group by kind""", {"cur": run_id, "prev": previous, "n": DIFF_EXAMPLES})
    kinds = {kind: {"now": int(a), "before": int(b), "examples_now": list(ea or []), "examples_before": list(eb or [])}
             for kind, a, b, ea, eb in cur.fetchall()}
    cur.execute("""
        select count(*) from (
            select jsonb_object_keys(coalesce(stage_seconds -> 'partitions', '{}'::jsonb)) from cluster_run
            where run_id = %s
            intersect
            select jsonb_object_keys(coalesce(stage_seconds -> 'partitions', '{}'::jsonb)) from cluster_run
            where run_id = %s) t""", (run_id, previous))
    return {"previous": previous, "previous_started": previous_started, "kinds": kinds,
            "departements": int(cur.fetchone()[0])}


DIFF_LABELS = {"identical": "identiques", "changed": "modifiés", "new": "nouveaux", "gone": "disparus"}


def section_previous_diff(diff: Mapping | None, run_link: Callable[[str], str],
                          suggestion_link: Callable[[str], str]) -> str:
    import plotly.graph_objects as go

    if diff is None:
        return _empty("pas de run précédent terminé")
    kinds = diff["kinds"]

    def count(kind: str) -> int:
        k = kinds.get(kind, {})
        return k.get("before", 0) if kind == "gone" else k.get("now", 0)

    head = (f'<p class="meta">Comparé au run {run_link(diff["previous"])} (début {esc(diff["previous_started"])}), '
            f'sur les {fmt_number(diff["departements"])} départements traités par les deux runs ; « modifiés » : '
            "un cluster de ce run qui partage un acteur avec un cluster du précédent sans avoir les mêmes membres "
            f"({fmt_number(kinds.get('changed', {}).get('before', 0))} clusters précédents concernés).</p>")
    if not diff["departements"]:
        return head + _empty("aucun département commun aux deux runs")
    labels = [DIFF_LABELS[k] for k in DIFF_LABELS]
    values = [count(k) for k in DIFF_LABELS]
    fig = go.Figure(go.Bar(x=labels, y=values, text=values, textposition="auto",
                           marker_color=["#9aa5b1", "#f0b429", "#3e7bfa", "#d64545"]))
    fig.update_layout(title="Clusters par rapport au run précédent", yaxis_title="clusters", height=320)
    rows = []
    for kind in ("new", "changed"):
        for cid in kinds.get(kind, {}).get("examples_now", []):
            rows.append([esc(DIFF_LABELS[kind]), suggestion_link(cid)])
    for cid in kinds.get("gone", {}).get("examples_before", []):
        rows.append([esc(DIFF_LABELS["gone"]), f"<code>{esc(cid)}</code> (run précédent)"])
    return head + figure_html(fig, "fig-diff") + table(["", "cluster"], rows, empty="aucune différence")
