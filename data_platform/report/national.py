"""The run report's section on duplicates found across partitions (data_platform.cluster.national):
clusters whose members lie in two partitions or more (cluster_membership keeps each actor's own
partition), their pairs, and those with an actor of `inconnu` (no usable postal code). One query."""
from __future__ import annotations

from data_platform.report.html import esc, fmt_number

QUERY = """
    with m as (select cluster_id, identifiant_unique, departement from cluster_membership where run_id = %(run)s),
    spans as (select cluster_id from m group by cluster_id having count(distinct departement) > 1),
    p as (
        select ma.departement as da, mb.departement as db
        from cluster_pair p
        join m ma on ma.cluster_id = p.cluster_id and ma.identifiant_unique = p.id_a
        join m mb on mb.cluster_id = p.cluster_id and mb.identifiant_unique = p.id_b
        where p.run_id = %(run)s)
    select (select count(*) from spans),
           (select count(*) from m where cluster_id in (select cluster_id from spans)),
           (select count(*) from p where da <> db),
           (select count(*) from p where da <> db and 'inconnu' in (da, db))"""


def gather_national(conn, run_id: str) -> dict:
    with conn.cursor() as cur:
        cur.execute(QUERY, {"run": run_id})
        clusters, actors, pairs, inconnu = cur.fetchone()
    return {"clusters": clusters, "actors": actors, "pairs": pairs, "pairs_inconnu": inconnu}


def section_national(counts: dict | None, params: dict) -> str:
    """HTML of the section (French labels)."""
    if params.get("national") is False:
        return "<p class=meta>Comparaison entre partitions désactivée pour ce run (paramètre <code>national</code>).</p>"
    if not counts:
        return "<p class=meta>—</p>"
    rows = [("clusters couvrant plusieurs partitions", counts["clusters"]),
            ("acteurs dans ces clusters", counts["actors"]),
            ("paires entre deux partitions", counts["pairs"]),
            ("dont paires avec un acteur sans code postal utilisable (« inconnu »)", counts["pairs_inconnu"])]
    return "<ul>" + "".join(f"<li>{esc(label)} : <b>{fmt_number(v)}</b></li>" for label, v in rows) + "</ul>"
