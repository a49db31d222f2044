"""Saved match models: the versioned `match_model` table, its JSON files, and the model of a run.

A row is one model (its id is its version): kind, name, the comparisons it was fitted on, its
parameters (the model's own JSON, `model.to_json()`), number of labels, cross-validated
precision/recall (labelled models), what it was trained on (a run id, a file), who made it and when.
`export_model` / `import_model` move a model as one JSON file, like dedupe's settings file: the
model's JSON with a `match_model` key for the row's metadata (a plain `model.to_json()` file, e.g.
`bench/bench_matching.py --model-out`, imports too).

One model per run (`pipeline.choose_model`, the pipeline's `train_model` stage), from the run's
`model` parameter:
- `rules`: the hand-set scorer, no model (`cluster_run.model_id` null);
- an id: that saved model, no fit;
- `latest` (default): the newest saved model, else as `em`;
- `em`: Fellegi–Sunter fitted ONCE on the run's whole selection (partitions sampled whole,
  deterministically, beyond `pipeline.TRAIN_MAX_ACTORS` actors), or, below `model.MIN_FIT_PAIRS` candidate
  pairs, the shipped default model's m and r with u re-estimated on the selection
  (`model.fit_selection`); saved, trained_on = the run id.
The id goes to `cluster_run.model_id`; `run_model` reads it back for every batch (which never fits).
"""
from __future__ import annotations

import json
from pathlib import Path

from data_platform.cluster.model import default_model, model_from_json

COLUMNS = ["id", "kind", "name", "comparisons", "parameters", "n_labels", "cv_precision", "cv_recall",
           "trained_on", "created_by", "created_at"]
META = ["id", "kind", "name", "n_labels", "cv_precision", "cv_recall", "trained_on", "created_by", "created_at"]


def save(conn, model, *, name: str = "", trained_on: str = "", created_by: str = "") -> int:
    """Insert a model (FellegiSunter / LogisticMatcher) and return its id (caller's transaction)."""
    data = model.to_json()
    info = data.get("info") or {}
    with conn.cursor() as cur:
        cur.execute(
            "insert into match_model (kind, name, comparisons, parameters, n_labels, cv_precision, cv_recall,"
            " trained_on, created_by) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
            (data["kind"], name, json.dumps(data.get("comparisons") or [], ensure_ascii=False),
             json.dumps(data, ensure_ascii=False), int(info.get("labels", 0) or 0), info.get("cv_precision"),
             info.get("cv_recall"), trained_on, created_by))
        return int(cur.fetchone()[0])


def latest_id(conn) -> int | None:
    with conn.cursor() as cur:
        cur.execute("select id from match_model order by created_at desc, id desc limit 1")
        row = cur.fetchone()
    return int(row[0]) if row else None


def _ref_id(conn, ref) -> int:
    """The id of `ref`: an id (int or digits) or 'latest'; LookupError if there is none."""
    if isinstance(ref, str) and ref.strip() == "latest":
        found = latest_id(conn)
        if found is None:
            raise LookupError("no saved match model (match_model is empty)")
        return found
    try:
        return int(ref)
    except (TypeError, ValueError):
        raise LookupError(f"not a model id nor 'latest': {ref!r}") from None


def load_row(conn, ref) -> dict:
    """The row of model `ref` (an id or 'latest') as a dict; LookupError if absent."""
    model_id = _ref_id(conn, ref)
    with conn.cursor() as cur:
        cur.execute(f"select {', '.join(COLUMNS)} from match_model where id = %s", (model_id,))
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"no saved match model {model_id}")
    return dict(zip(COLUMNS, row))


def load(conn, ref) -> tuple[int, object]:
    """(id, model) of `ref` (an id or 'latest')."""
    row = load_row(conn, ref)
    return int(row["id"]), model_from_json(row["parameters"])


def list_models(conn) -> list[dict]:
    """Every saved model's metadata, newest first."""
    with conn.cursor() as cur:
        cur.execute(f"select {', '.join(META)} from match_model order by created_at desc, id desc")
        return [dict(zip(META, row)) for row in cur.fetchall()]


def export_model(conn, ref, path) -> dict:
    """Write model `ref` (an id or 'latest') to one JSON file: the model's JSON plus its row's
    metadata under `match_model`. Returns the metadata."""
    row = load_row(conn, ref)
    meta = {k: (str(row[k]) if k == "created_at" else row[k]) for k in META}
    Path(path).write_text(json.dumps({**row["parameters"], "match_model": meta}, ensure_ascii=False, indent=1),
                          encoding="utf-8")
    return meta


def import_model(conn, path, *, name: str | None = None, created_by: str = "") -> int:
    """Save the model of a JSON file (an export, or a plain `model.to_json()`) as a new version;
    its comparisons must be this version's (ValueError otherwise). Returns the new id."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    meta = data.pop("match_model", None) or {}
    model = model_from_json(data)  # checks kind and comparisons
    trained_on = meta.get("trained_on") or (model.info.get("trained_on") if hasattr(model, "info") else "") or ""
    origin = f"import of {Path(path).name}" + (f" (model {meta['id']}: {trained_on})" if meta.get("id") else
                                                 (f" ({trained_on})" if trained_on else ""))
    return save(conn, model, name=name if name is not None else (meta.get("name") or Path(path).stem),
                trained_on=origin, created_by=created_by or meta.get("created_by") or "")


# ---------------------------------------------------------------- the model of a run

def run_model(conn, run_id: str, params):
    """The model that scores the run's batches (never fitted here): 'rules', the run's recorded model
    (`cluster_run.model_id`), else, for a run whose model was not trained (a batch clustered outside
    the pipeline), the saved model of its parameter (an id; 'latest': the newest, or the shipped
    default model as it is). RuntimeError for `em` without a trained model."""
    if params.model == "rules":
        return "rules"
    with conn.cursor() as cur:
        cur.execute("select model_id from cluster_run where run_id = %s", (run_id,))
        row = cur.fetchone()
    if row is not None and row[0] is not None:
        return load(conn, row[0])[1]
    if params.model == "em":
        raise RuntimeError(f"run {run_id!r} has no trained model: run pipeline.train_model first")
    if params.model == "latest" and latest_id(conn) is None:
        return default_model()
    return load(conn, params.model)[1]

