"""Real-time matching: "is this actor already known?" (issue 11, items 3 and 4).

- `index`: a persistent index of the displayed layer (dbt `displayed_acteur`: ACTIF orphans and parents) in
  PostgreSQL (`match.acteur_index`), with the normalized fields, the comparison inputs precomputed and the
  blocking keys indexed; rebuilt in bulk, refreshed for touched ids by ingestion and apply.
- `records`: new records (JSON objects, a CSV) → the normalized frame the comparisons read.
- `search`: candidates of a batch of records in ONE query (keys of the index), scored by the saved match
  model (Fellegi–Sunter by default): top-k known actors above the threshold, with per-comparison weights.
- `suggest`: ingestion's new actors that match a known one become suggestions in their own cohort, through
  the clustering run's own stages (dbt parents/changes, `suggestions.write`).
- `cli`: `data-platform match` and `data-platform match-index rebuild|refresh|status`.
"""
