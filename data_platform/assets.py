"""Airflow assets shared by the DAGs (ingestion produces, clustering consumes), and the contract of
their events: which départements to cluster again.

The asset names the platform's `acteur` table, not a server: the same DAGs run against the embedded
server, DATABASE_URL's or the deployment's, and an event means "acteur changed" on whichever it is.

An ACTEURS_INGESTED event's `extra` carries `departements`: the partitions (dbt's
`int_acteur_normalise.departement`) that the change touched, computed by `touched_departements` with
dbt's rule (`geo.departement_from_postal_code`: exception communes first, then the prefix rule;
`inconnu` for an actor whose postal code gives no département), on the actor as dbt consolidates it
(the revision's postal code and city win) before and after the change.

The clustering DAG reads the events of its run with `departements_to_cluster`: the union of the
events' départements, each checked against the run parameter's codes; a junk value (e.g. "99") is
skipped and reported, never failing the run; events that name no département give an empty list,
which the DAG turns into a no-op run (status `empty`, with the reason), never a run on all of France.

No database access and no heavy import at module level: the DAG files import this at parse time.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from airflow.sdk import Asset

ACTEURS_INGESTED = Asset(name="acteurs_ingested", uri="data-platform://acteur")

# the (postal code, city) of each touched actor as dbt consolidates it (revision ⊕ acteur), from the
# ingestion's diff: the new values of every row, and — before the apply, while `acteur` still holds
# them — the old values of a changed actor (it leaves its old partition)
_TOUCHED_POSTAL_CODES = """
    select coalesce(nullif(r.code_postal, ''), d.code_postal, ''), coalesce(nullif(r.ville, ''), d.ville, '')
    from _ingest_diff d left join revision_acteur r on r.identifiant_unique = d.identifiant_unique
    union
    select coalesce(nullif(r.code_postal, ''), a.code_postal, ''), coalesce(nullif(r.ville, ''), a.ville, '')
    from _ingest_diff d join acteur a on a.identifiant_unique = d.identifiant_unique
    left join revision_acteur r on r.identifiant_unique = d.identifiant_unique
    where d.change_type = 'changed'"""


def touched_departements(cur) -> list[str]:
    """The départements (dbt's partitions, `inconnu` included) of the rows of the temp table
    `_ingest_diff`, before and after the change; call it before the diff is applied. Sorted."""
    from data_platform.geo import departement_from_postal_code

    cur.execute(_TOUCHED_POSTAL_CODES)
    return sorted({departement_from_postal_code(cp, ville) for cp, ville in cur.fetchall()})


@dataclass(frozen=True)
class Touched:
    """What the asset events of a run ask to cluster again."""
    departements: list[str]                            # valid codes (and `inconnu`), sorted
    ignored: list[str] = field(default_factory=list)   # junk values found in the events, sorted
    events: int = 0
    sources: list[str] = field(default_factory=list)   # the producers' `source`, sorted

    @property
    def reason(self) -> str:
        """Why a run triggered by these events has nothing to do ('' when it has)."""
        if self.departements:
            return ""
        junk = f" (ignored codes: {', '.join(self.ignored)})" if self.ignored else ""
        return (f"nothing to cluster: the {self.events} asset event(s) of this run name no département{junk}")

    def as_dict(self) -> dict:
        return {"events": self.events, "sources": self.sources, "departements": self.departements,
                "ignored": self.ignored}


def departements_to_cluster(triggering_asset_events: Mapping | None) -> Touched | None:
    """The départements the run's asset events touched; None when the run was not triggered by an
    asset event (a manual or API run: its own parameters apply)."""
    from data_platform.cluster.params import DEPARTEMENT_LABELS

    accessor = triggering_asset_events or {}
    events = [e for key in list(accessor) for e in (accessor[key] or [])]  # keys first: lookups may add keys
    if not events:
        return None
    kept, ignored, sources = set(), set(), set()
    for event in events:
        extra = getattr(event, "extra", None) or {}
        if extra.get("source"):
            sources.add(str(extra["source"]))
        for value in _as_list(extra.get("departements")):
            code = value.strip() if isinstance(value, str) else value
            (kept if isinstance(code, str) and code in DEPARTEMENT_LABELS else ignored).add(str(value))
    return Touched(departements=sorted(kept), ignored=sorted(ignored), events=len(events), sources=sorted(sources))


def _as_list(value) -> Iterable:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value if isinstance(value, (list, tuple, set)) else [value]


def open_run(run_id: str, raw_params: dict | None, triggering_asset_events: Mapping | None = None,
             dag_run_id: str = "") -> Touched | None:
    """The clustering DAG's first step: validate the parameters and open the run (`pipeline.start_run`),
    narrowed to the départements the asset events touched. A triggered run records what its events
    asked for (`asset_events`, junk codes included) and, when they touched nothing, becomes a no-op
    (`pipeline.mark_empty`, with the reason). Returns the events' `Touched` (None: not triggered)."""
    import logging

    from data_platform import pipeline

    log = logging.getLogger(__name__)
    touched = departements_to_cluster(triggering_asset_events)
    if touched is not None and touched.ignored:
        log.warning("run %s: asset events name codes that are no département, ignored: %s",
                    run_id, ", ".join(touched.ignored))
    pipeline.start_run(run_id, raw_params, dag_run_id=dag_run_id,
                       departements_from_assets=touched.departements if touched else None)
    if touched is not None:
        pipeline.record_asset_events(run_id, touched.as_dict())
        if touched.reason:
            log.warning("run %s: %s", run_id, touched.reason)
            pipeline.mark_empty(run_id, touched.reason)
    return touched
