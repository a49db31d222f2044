"""Realistic synthetic actors with ground truth: `data-platform generate --actors N --seed S [--out F] [--append]`.

Without --out the database is loaded in one transaction (COPY): acteur, revision_acteur (existing
parents, their children, a few name corrections) and ground_truth (every actor and every parent with
the entity_id of its place, and a kind: chain, independant, ess, decheterie, pharmacie, collectivite,
pav, digital, inertes, ponctuel, generic, mall, shared_site). Unless --append, the actors and
everything pointing at them (cluster_*, suggestion*) are replaced. --append refuses ids that already
exist (ids embed the seed, so append with another seed).

With --out, a CSV (UTF-8, header, ',' separator) with the acteur columns of schema.ACTEUR_COLUMNS
followed by the ground-truth columns `entity_id` and `kind`; empty coordinates are empty fields. The
revision layer (existing parents/children) exists only in the database. `load-csv` accepts this file
as is and also fills ground_truth from it.

Modules: geography (data/communes.csv, data/streets.txt), vocabulary (names, source profiles),
entities (the places, hard negatives), records (per-source habits), revisions (existing clusters),
population (all of it for a seed), output (CSV file, COPY into the database with db.connection) and
bulk_load (indexes rebuilt once after loading empty tables).
The same seed gives the same bytes.
"""
