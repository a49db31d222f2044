"""New actors that match a known one become suggestions at once, in a small cohort of their own.

After an ingestion commits (`hooks.after_ingest`), its new actors are looked up in the match index; each one whose
best match (another source's actor, or a parent) reaches the run's threshold is linked to it, links joined into
clusters (each new actor has one link, so a cluster holds at most one known actor: at most one parent). The
clusters then go through the clustering run's own stages, so that suggestions, parents and changes follow the one
policy: `pipeline.start_run` (default parameters, narrowed to the clusters' départements), `build_selection`
(dbt: the consolidated and normalized layers now hold the new actors), the clusters written as the run's
`cluster_membership` / `cluster_pair` rows (the pair's details are the model's, as a run's), `build_parents`
(dbt: parent choice, data, changes), `write` (suggestions.write: fingerprints, re-proposal policy, the cohort in
one transaction) and `finish` (the run's report). The cohort's `type_action` is `ingestion` and its run id
`match:<ingestion run id>`. A later clustering run proposing the same cluster on the same data skips it
(already pending).

The per-run dbt tables (the selection, the parents, the changes) hold one run at a time, so a match run never runs
its stages beside another run (`pipeline.run_lock`, the rule in pipeline.py): it holds the session advisory lock
`pipeline.RUN_LOCK` from its start_run to its finish (one match run at a time), taken only while no clustering run
is active (`running` in cluster_run, and open for less than a day: an older one was abandoned). While one is, it
waits — the lock released, polled every DP_RUN_WAIT_POLL seconds (5), logged — at most DP_RUN_WAIT_TIMEOUT seconds
(1800), then raises `pipeline.RunWaitTimeout` naming the clustering run; the ingestion stays committed
(`hooks.after_ingest` logs and returns the error; the next clustering run proposes what was missed). A clustering
run takes the same lock at its build_selection: a match run under way finishes first. The links are looked up
before the lock (an ingestion whose new actors match nothing never waits) and again after a wait.
"""
from __future__ import annotations

import hashlib
import logging
import re

import numpy as np
import pandas as pd

from data_platform import pipeline
from data_platform.cluster.params import DEPARTEMENT_LABELS, RunParams
from data_platform.cluster.scoring import details_json
from data_platform.db.connection import connect, copy_dataframe, fetch_df
from data_platform.match import index as ix
from data_platform.match import search
from data_platform.report.run_report import INGESTION_COHORT

log = logging.getLogger(__name__)

TYPE_ACTION = INGESTION_COHORT  # the run report counts these cohorts' suggestions
VALID_DEPARTEMENTS = set(DEPARTEMENT_LABELS) | {"975", "inconnu"}


def match_run_id(ingest_run_id: str) -> str:
    return pipeline.MATCH_RUN_PREFIX + re.sub(r"[^A-Za-z0-9_.:+-]", "-", ingest_run_id or "ingest")[:200]


def links(conn, new_ids: list[str], params: RunParams, model) -> pd.DataFrame:
    """(new id, known id, score, details, departement of the known one) of each new actor whose best match
    reaches the threshold (same-source pairs excluded unless the run allows them); sorted by new id."""
    raw = fetch_df(conn, ix.CONSOLIDATED_SQL, {"ids": sorted(new_ids)})
    empty = pd.DataFrame(columns=["id_new", "id_known", "score", "details", "departement"])
    if not len(raw):
        return empty
    for c in ("latitude", "longitude"):
        raw[c] = pd.to_numeric(raw[c], errors="coerce")
    pairs = search.score(conn, raw, model, params)
    s, cand, q = pairs.scored, pairs.candidates, pairs.records
    ok = s.score >= params.threshold
    if not params.allow_same_source:
        qs = q["source"].to_numpy(dtype=object)[s.i]
        ok &= ~((qs != "") & (qs == cand["source"].to_numpy(dtype=object)))
    rows = np.flatnonzero(ok)
    if not len(rows):
        return empty
    ids = cand["identifiant_unique"].to_numpy(dtype=object)
    rows = rows[np.lexsort((ids[rows], -s.score[rows], s.i[rows]))]
    best = rows[np.r_[True, s.i[rows][1:] != s.i[rows][:-1]]]  # each new actor's best match
    return pd.DataFrame({"id_new": q["identifiant_unique"].to_numpy(dtype=object)[s.i[best]],
                         "id_known": ids[best], "score": np.round(s.score[best], 6),
                         "details": details_json(s, best),
                         "departement": cand["departement"].to_numpy(dtype=object)[best]})


def clusters(edges: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Membership (cluster_id, identifiant_unique, departement) and pair rows (cluster_id, id_a, id_b, score,
    details) of the links' connected components; cluster id = département + sha1 of the sorted member ids, as a
    run's (`grouping.cluster_ids`); a component's département is its known actor's (else the smallest)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = pd.Index(sorted(set(edges["id_new"]) | set(edges["id_known"])))
    a, b = nodes.get_indexer(edges["id_new"]), nodes.get_indexer(edges["id_known"])
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(nodes), len(nodes)))
    _, label = connected_components(graph, directed=False)
    dept = pd.Series(edges["departement"].to_numpy(), index=edges["id_known"]).groupby(level=0).first()
    members = pd.DataFrame({"identifiant_unique": nodes, "label": label})
    members["departement"] = members["identifiant_unique"].map(dept)
    comp_dept = members.dropna(subset=["departement"]).groupby("label")["departement"].min()
    members["departement"] = members["label"].map(comp_dept).fillna("inconnu")
    ids = members.groupby("label")["identifiant_unique"].agg(lambda s: "|".join(sorted(s)))
    cid = {lab: f"{comp_dept.get(lab, 'inconnu')}_" + hashlib.sha1(key.encode()).hexdigest()[:16]
           for lab, key in ids.items()}
    members["cluster_id"] = members["label"].map(cid)
    member_cluster = dict(zip(members["identifiant_unique"], members["cluster_id"]))
    lo = np.minimum(edges["id_new"].to_numpy(dtype=object), edges["id_known"].to_numpy(dtype=object))
    hi = np.maximum(edges["id_new"].to_numpy(dtype=object), edges["id_known"].to_numpy(dtype=object))
    pairs = pd.DataFrame({"cluster_id": [member_cluster[x] for x in lo], "id_a": lo, "id_b": hi,
                          "score": edges["score"].to_numpy(), "details": edges["details"].to_numpy()})
    return (members[["cluster_id", "identifiant_unique", "departement"]].sort_values(
        ["cluster_id", "identifiant_unique"]).reset_index(drop=True),
        pairs.sort_values(["cluster_id", "id_a", "id_b"]).reset_index(drop=True))


def _links(url: str | None, new_ids: list[str], params: RunParams) -> tuple[int | None, pd.DataFrame] | None:
    """(model id, `links`) with the run's model; None without a match index."""
    with connect(url) as conn:
        if not ix.exists(conn):
            return None
        model_id, model = search.load_model(conn, params.model)
        return model_id, links(conn, new_ids, params, model)


def _nothing_to_suggest(found, out: dict) -> dict | None:
    """The answer when `_links` found nothing to suggest (no match index, or no new actor matching), else None."""
    if found is None:
        return {**out, "skipped": "no match index"}
    return out if not len(found[1]) else None


def suggest_new_actors(new_ids, ingest_run_id: str, *, dag_id: str = "ingest_sources", dag_run_id: str = "",
                       url: str | None = None) -> dict:
    """Suggestions for the new actors that match known ones (see the module's docstring); returns what was
    done: {"new", "matched", "clusters", "run_id", "suggestions", "cohorte_id"}. Waits for an active clustering
    run (pipeline.run_lock; RunWaitTimeout after DP_RUN_WAIT_TIMEOUT seconds)."""
    new_ids = sorted({str(i) for i in new_ids})
    params = RunParams()
    run_id = match_run_id(ingest_run_id)
    out = {"new": len(new_ids), "matched": 0, "clusters": 0, "run_id": None, "suggestions": 0, "cohorte_id": None}
    if not new_ids:
        return out
    found = _links(url, new_ids, params)  # before the lock: an ingestion with nothing to suggest never waits
    if (early := _nothing_to_suggest(found, out)) is not None:
        return early
    with pipeline.run_lock(run_id, url) as waited:
        if waited:  # another run ran meanwhile (a new latest model, applied merges): matched again
            found = _links(url, new_ids, params)
            if (early := _nothing_to_suggest(found, out)) is not None:
                return early
        model_id, edges = found
        members, pairs = clusters(edges)
        deps = sorted(set(members["departement"]))
        raw = {"departements": deps if set(deps) <= VALID_DEPARTEMENTS else []}
        pipeline.start_run(run_id, raw, dag_run_id=dag_run_id)
        pipeline.build_selection(run_id)
        with connect(url) as conn:
            with conn.cursor() as cur:
                cur.execute("update cluster_run set model_id = %s where run_id = %s", (model_id, run_id))
            copy_dataframe(conn, "cluster_membership", members.assign(run_id=run_id)[
                ["run_id", "cluster_id", "identifiant_unique", "departement"]])
            copy_dataframe(conn, "cluster_pair", pairs.assign(run_id=run_id)[
                ["run_id", "cluster_id", "id_a", "id_b", "score", "details"]])
        pipeline.build_parents(run_id)
        counts = pipeline.write(run_id, dag_id=dag_id, dag_run_id=dag_run_id)
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("update suggestion_cohorte set type_action = %s where run_id = %s", (TYPE_ACTION, run_id))
        pipeline.finish(run_id, counts)
    return {**out, "matched": len(edges), "clusters": int(members["cluster_id"].nunique()), "run_id": run_id,
            "suggestions": counts.get("suggestions", 0), "cohorte_id": counts.get("cohorte_id")}
