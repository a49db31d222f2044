"""What a suggestion's page shows, computed from its JSON (no database access)."""
from __future__ import annotations

from data_platform.geo import distance_m

FIELD_ORDER = ["source", "acteur_type", "nom", "nom_commercial", "siren", "siret", "adresse", "adresse_complement",
               "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url", "statut"]
NORM_ORDER = ["nom_norm", "nom_commercial_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm",
              "siren_norm", "telephone_norm", "departement"]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".")
    return str(v)


def _same(values: list[str]) -> bool:
    filled = {" ".join(v.lower().split()) for v in values if v != ""}
    return len(filled) <= 1 and (len(filled) == 0 or all(v != "" for v in values))


def cluster_table(contexte: dict) -> dict:
    """Side-by-side members (one column each) and the proposed parent, one row per field."""
    members = list((contexte or {}).get("membres") or [])
    parent = (contexte or {}).get("parent") or {}
    pdata, origine = parent.get("data") or {}, parent.get("origine") or {}
    raw_keys = []
    for m in members:
        for k in (m.get("raw") or {}):
            if k not in raw_keys:
                raw_keys.append(k)
    fields = [f for f in FIELD_ORDER if f == "source" or f in raw_keys or f in pdata]
    fields += [k for k in raw_keys if k not in fields]
    rows = []
    for f in fields:
        if f == "source":
            values = [_fmt(m.get("source") or ("(parent)" if m.get("est_parent") else "")) for m in members]
        else:
            values = [_fmt((m.get("raw") or {}).get(f)) for m in members]
        rows.append({"field": f, "values": values, "differs": not _same(values),
                     "parent_value": _fmt(pdata.get(f)) if f in pdata else "",
                     "origine": origine.get(f, "")})
    norm_keys = []
    for m in members:
        for k in (m.get("norm") or {}):
            if k not in norm_keys:
                norm_keys.append(k)
    norm_keys = [k for k in NORM_ORDER if k in norm_keys] + [k for k in norm_keys if k not in NORM_ORDER]
    norm_rows = []
    for k in norm_keys:
        values = [_fmt((m.get("norm") or {}).get(k)) for m in members]
        norm_rows.append({"field": k, "values": values, "differs": not _same(values)})
    return {
        "members": [{"id": m.get("identifiant_unique", ""), "source": m.get("source") or "",
                     "est_parent": bool(m.get("est_parent"))} for m in members],
        "rows": rows, "norm_rows": norm_rows,
        "parent": {"id": parent.get("identifiant_unique", ""), "action": parent.get("action", "")},
    }


def pairs_table(contexte: dict) -> list[dict]:
    out = []
    for p in (contexte or {}).get("paires") or []:
        fields = p.get("fields") or {}
        matched = list(p.get("matched") or [])
        out.append({"id_a": p.get("id_a", ""), "id_b": p.get("id_b", ""), "score": p.get("score"),
                    "matched": matched,
                    "fields": [{"name": k, "score": v, "matched": k in matched} for k, v in sorted(fields.items())],
                    "distance_m": p.get("distance_m")})
    return sorted(out, key=lambda p: -(p["score"] or 0))


def distance_matrix(contexte: dict) -> dict:
    """Distances in metres between members (from their coordinates; the pair's when given)."""
    members = list((contexte or {}).get("membres") or [])
    ids = [m.get("identifiant_unique", "") for m in members]
    given = {}
    for p in (contexte or {}).get("paires") or []:
        if p.get("distance_m") is not None:
            given[(p.get("id_a"), p.get("id_b"))] = given[(p.get("id_b"), p.get("id_a"))] = p["distance_m"]
    coords = {m.get("identifiant_unique"): ((m.get("raw") or {}).get("latitude"), (m.get("raw") or {}).get("longitude"))
              for m in members}
    rows = []
    for a in ids:
        cells = []
        for b in ids:
            if a == b:
                cells.append("—")
                continue
            d = given.get((a, b))
            if d is None:
                d = distance_m(coords[a], coords[b])
            cells.append("?" if d is None else f"{round(d):,}".replace(",", " ") + " m")
        rows.append({"id": a, "cells": cells})
    return {"ids": ids, "rows": rows}


def ordered_changes(changes) -> list[dict]:
    out = []
    for c in sorted(changes or [], key=lambda c: (int(c.get("order", 0)), str(c.get("identifiant_unique")))):
        out.append({"order": c.get("order"), "type": c.get("type"), "id": c.get("identifiant_unique"),
                    "parent_id": c.get("parent_id", ""),
                    "data": ", ".join(f"{k}={_fmt(v)}" for k, v in (c.get("data") or {}).items())})
    return out


def member_names(contexte: dict) -> list[str]:
    return [str((m.get("raw") or {}).get("nom") or m.get("identifiant_unique") or "")
            for m in (contexte or {}).get("membres") or []]
