"""Reviewer memory: labelled pairs derived from the review tables, in bulk SQL (issue 8, item 5).

What each decision says (`suggestion_decision`, its `snapshot` = what the reviewer was shown,
docs/CONTRACTS.md; the cluster's actors are the ids of the snapshot's `paires`, or its `membres`
without the parent to create when it has no pair):
- `approve`: every pair of the cluster's actors matches (label 1, weight 1, kind `approved`);
- `remove_member`: the removed actor(s) (`snapshot.retires`, the removed parent's children
  included) match none of the other actors (label 0, weight 1, kind `removed`);
- `reject` of a cluster of two actors: they do not match (label 0, weight 1, kind `rejected_pair`);
- `reject` of a larger cluster: somebody in it is wrong, not necessarily everybody: its pairs are
  weak negatives (label 0, weight 2 / n — the share of wrong pairs if one member of n were the
  culprit —, kind `rejected_cluster`), never cannot-links.
- a pair answered on the admin's labelling page (`pair_label`, data_platform.labels.pair_label): "oui"
  matches (label 1, kind `labelled_match`), "non" does not (label 0, kind `labelled_non_match`),
  weight 1; "je ne sais pas" is no label.
When several strong labels concern one pair, the latest decision wins; a weak negative is kept only
for pairs without a strong label.

Strong labels are the reviewer's memory for later runs (`reviewer_links`): label 0 → cannot-link,
label 1 → must-link (data_platform.cluster.grouping.group).
"""
from __future__ import annotations

import pandas as pd

LABEL_COLUMNS = ["id_a", "id_b", "label", "weight", "kind", "suggestion_id", "decide_le"]
STRONG_KINDS = ("approved", "removed", "rejected_pair", "labelled_match", "labelled_non_match")

_LABELS_SQL = """
with wanted as (
    select unnest(%(ids)s::text[]) as ident
),
dec as (
    select d.id as decision_id, d.suggestion_id, d.decision, d.decide_le, d.snapshot
    from suggestion_decision d
    where d.decision in ('approve', 'reject', 'remove_member') and d.annulee_le is null  -- an undone decision says nothing
),
actors as (  -- the actors the reviewer was shown as the cluster
    select dec.decision_id, p.ident
    from dec
    cross join lateral (
        select e ->> 'id_a' as ident from jsonb_array_elements(coalesce(dec.snapshot -> 'paires', '[]')) e
        union
        select e ->> 'id_b' from jsonb_array_elements(coalesce(dec.snapshot -> 'paires', '[]')) e
    ) p
    where p.ident is not null
    union
    select dec.decision_id, m.ident
    from dec
    cross join lateral jsonb_array_elements_text(coalesce(dec.snapshot -> 'membres', '[]')) m(ident)
    where jsonb_array_length(coalesce(dec.snapshot -> 'paires', '[]')) = 0
      and not (coalesce(dec.snapshot -> 'parent' ->> 'action', '') = 'create'
               and m.ident = dec.snapshot -> 'parent' ->> 'identifiant_unique')
),
sizes as (
    select decision_id, count(*) as n from actors group by decision_id
),
removed as (
    select dec.decision_id, r.ident
    from dec
    cross join lateral (
        select jsonb_array_elements_text(coalesce(dec.snapshot -> 'retires', '[]')) as ident
        union
        select dec.snapshot ->> 'membre_retire'
    ) r
    where dec.decision = 'remove_member' and r.ident is not null
),
labelled as (
    -- approved: every pair of the cluster matches
    select least(a.ident, b.ident) as id_a, greatest(a.ident, b.ident) as id_b, 1 as label, 1.0::float8 as weight,
           'approved' as kind, dec.suggestion_id, dec.decide_le, dec.decision_id
    from dec join actors a using (decision_id) join actors b using (decision_id)
    where dec.decision = 'approve' and a.ident < b.ident
    union all
    -- removed member: it matches none of the others
    select least(r.ident, a.ident), greatest(r.ident, a.ident), 0, 1.0, 'removed', dec.suggestion_id,
           dec.decide_le, dec.decision_id
    from dec join removed r using (decision_id) join actors a using (decision_id)
    where a.ident <> r.ident
      and not exists (select 1 from removed r2 where r2.decision_id = dec.decision_id and r2.ident = a.ident)
    union all
    -- rejected: a pair is a no-match, a larger cluster gives weak negatives
    select least(a.ident, b.ident), greatest(a.ident, b.ident), 0,
           case when s.n = 2 then 1.0 else 2.0 / s.n end,
           case when s.n = 2 then 'rejected_pair' else 'rejected_cluster' end,
           dec.suggestion_id, dec.decide_le, dec.decision_id
    from dec join sizes s using (decision_id) join actors a using (decision_id) join actors b using (decision_id)
    where dec.decision = 'reject' and a.ident < b.ident
    union all
    -- a pair answered on the labelling page (oui / non; "je ne sais pas" is no label)
    select pl.left_id, pl.right_id, case when pl.label = 'oui' then 1 else 0 end, 1.0,
           case when pl.label = 'oui' then 'labelled_match' else 'labelled_non_match' end,
           null::bigint, pl.labelled_at, null::bigint
    from pair_label pl
    where pl.label in ('oui', 'non')
),
ranked as (
    select l.*, row_number() over (
        partition by id_a, id_b
        order by (kind <> 'rejected_cluster') desc, decide_le desc, decision_id desc) as rk
    from labelled l
    where %(all)s or (id_a in (select ident from wanted) and id_b in (select ident from wanted))
)
select id_a, id_b, label, weight, kind, suggestion_id, decide_le
from ranked where rk = 1
order by id_a, id_b
"""


def reviewer_labels(conn, ids=None) -> pd.DataFrame:
    """Labelled pairs (id_a < id_b) from every reviewer decision, one row per pair (the latest strong
    label wins; weak negatives only where no strong label exists), sorted by (id_a, id_b).
    `ids` (optional): only pairs whose two actors are among them. One query."""
    args = {"all": ids is None, "ids": [] if ids is None else sorted({str(i) for i in ids})}
    with conn.cursor() as cur:
        cur.execute(_LABELS_SQL, args)
        rows = cur.fetchall()
    df = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    df["label"] = df["label"].astype(int)
    df["weight"] = df["weight"].astype(float)
    return df


def reviewer_links(conn, ids=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cannot, must): pairs [id_a, id_b] a reviewer separated / approved, strong labels only."""
    df = reviewer_labels(conn, ids)
    strong = df[df["kind"].isin(STRONG_KINDS)]
    cannot = strong.loc[strong["label"] == 0, ["id_a", "id_b"]].reset_index(drop=True)
    must = strong.loc[strong["label"] == 1, ["id_a", "id_b"]].reset_index(drop=True)
    return cannot, must
