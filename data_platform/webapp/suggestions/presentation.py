"""What a suggestion's page shows, computed from its JSON (no database access): the side-by-side table
(the proposed parent first, each member's cell compared with the parent's value), the pair table with each
field's contribution to the match probability, the member map (inline SVG in metres around the centre), the
change kind, the parents that will be deleted."""
from __future__ import annotations

import math
from html import escape

from data_platform.geo import distance_m

FIELD_LABELS = {"source": "Source", "acteur_type": "Type d'acteur", "nom": "Nom", "nom_commercial": "Nom commercial",
                "siren": "SIREN", "siret": "SIRET", "adresse": "Adresse", "adresse_complement": "Complément d'adresse",
                "code_postal": "Code postal", "ville": "Ville", "latitude": "Latitude", "longitude": "Longitude",
                "telephone": "Téléphone", "email": "E-mail", "url": "Site web", "statut": "Statut",
                "nom_norm": "Nom normalisé", "nom_commercial_norm": "Nom commercial normalisé",
                "adresse_norm": "Adresse normalisée", "ville_norm": "Ville normalisée",
                "code_postal_norm": "Code postal normalisé", "siret_norm": "SIRET normalisé",
                "siren_norm": "SIREN normalisé", "telephone_norm": "Téléphone normalisé",
                "departement": "Département"}
# comparisons of a learned model (data_platform.cluster.comparisons.NAMES) and fields of the rules scorer
COMPARISON_LABELS = {"nom": "Nom", "place": "Adresse et position", "adresse": "Adresse", "code_postal": "Code postal",
                     "ville": "Ville", "siret": "SIRET / SIREN", "telephone": "Téléphone",
                     "domain": "Domaine (e-mail, site)", "distance": "Distance"}
CHANGE_LABELS = {"acteur_create_as_parent": "Créer le parent", "acteur_keep_as_parent": "Garder le parent",
                 "acteur_update_parent_id": "Rattacher au parent",
                 "acteur_verify_in_revision": "Vérifier le rattachement",
                 "acteur_delete_as_parent": "Supprimer l'ancien parent"}
# the change kind of a suggestion, strongest first: (code, label, change type that makes it)
CHANGE_KINDS = [("fusion_parents", "Fusion de parents (un parent supprimé)", "acteur_delete_as_parent"),
                ("rattachement", "Rattachement à un parent existant", "acteur_keep_as_parent"),
                ("creation", "Création d'un parent", "acteur_create_as_parent")]

CHANGE_KIND_SHORT = {"fusion_parents": "fusion de parents", "rattachement": "rattachement", "creation": "création"}


def label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def change_kind(changes) -> tuple[str, str]:
    """(code, label) of the suggestion's kind, from its change records."""
    types = {c.get("type") for c in changes or []}
    for code, text, change_type in CHANGE_KINDS:
        if change_type in types:
            return code, text
    return "", "—"


def _letters(n: int) -> list[str]:
    out = []
    for i in range(n):
        s, k = "", i
        while True:
            s = chr(ord("A") + k % 26) + s
            k = k // 26 - 1
            if k < 0:
                break
        out.append(s)
    return out

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


def _key(v: str) -> str:
    return " ".join(v.lower().split())


def _cells(values: list[str], reference: str | None) -> list[dict]:
    """Each member's value against the reference (the parent's value; without one, the most frequent
    non-empty value): `same`, `differs` (another non-empty value) or `empty`."""
    if reference is None:
        filled = [_key(v) for v in values if v != ""]
        reference_key = max(sorted(set(filled)), key=filled.count) if filled else ""
    else:
        reference_key = _key(reference)
    out = []
    for v in values:
        state = "empty" if v == "" else ("same" if _key(v) == reference_key or reference_key == "" else "differs")
        out.append({"value": v, "state": state})
    return out


def cluster_table(contexte: dict, changes=None) -> dict:
    """Side-by-side: the proposed parent, then the members (one column each), one row per field; each member
    cell says whether it differs from the parent's value (per cell, not per row). A member is `retirable`
    unless it is the kept parent or a child of it (acteur_verify_in_revision): decisions.remove_member
    refuses those."""
    members = list((contexte or {}).get("membres") or [])
    parent = (contexte or {}).get("parent") or {}
    pdata, origine = parent.get("data") or {}, parent.get("origine") or {}
    letters = _letters(len(members))
    letter_of = {m.get("identifiant_unique", ""): x for m, x in zip(members, letters)}
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
        parent_value = _fmt(pdata.get(f)) if f in pdata else ""
        cells = _cells(values, parent_value if f in pdata else None)
        if f == "source":  # members come from different sources by construction: nothing to point out
            cells = [{**c, "state": "same" if c["state"] == "differs" else c["state"]} for c in cells]
        rows.append({"field": f, "label": label(f), "values": values, "differs": not _same(values), "cells": cells,
                     "parent_value": parent_value, "origine": origine.get(f, ""),
                     "origine_lettre": letter_of.get(origine.get(f, ""), "")})
    norm_keys = []
    for m in members:
        for k in (m.get("norm") or {}):
            if k not in norm_keys:
                norm_keys.append(k)
    norm_keys = [k for k in NORM_ORDER if k in norm_keys] + [k for k in norm_keys if k not in NORM_ORDER]
    norm_rows = []
    for k in norm_keys:
        values = [_fmt((m.get("norm") or {}).get(k)) for m in members]
        norm_rows.append({"field": k, "label": label(k), "values": values, "differs": not _same(values),
                          "cells": _cells(values, None)})
    action = parent.get("action", "")
    following = {c.get("identifiant_unique") for c in changes or [] if c.get("type") == "acteur_verify_in_revision"}
    return {
        "members": [{"id": m.get("identifiant_unique", ""), "source": m.get("source") or "", "lettre": x,
                     "nom": str((m.get("raw") or {}).get("nom") or ""),
                     "est_parent": bool(m.get("est_parent")),
                     "parent_garde": action == "keep" and m.get("identifiant_unique") == parent.get("identifiant_unique"),
                     "retirable": not (action == "keep" and m.get("identifiant_unique") == parent.get("identifiant_unique"))
                     and m.get("identifiant_unique") not in following,
                     "apres_retrait": after_removal(contexte, m.get("identifiant_unique", ""))}
                    for m, x in zip(members, letters)],
        "rows": rows, "norm_rows": norm_rows,
        "parent": {"id": parent.get("identifiant_unique", ""), "action": action,
                   "action_label": {"create": "à créer", "keep": "existant, conservé"}.get(action, action)},
    }


def after_removal(contexte: dict, member_id: str) -> dict:
    """What removing `member_id` leaves: the number of members and the recomputed score (the weakest
    remaining pair, as decisions.remove_member computes it), for the confirmation."""
    members = [m.get("identifiant_unique") for m in (contexte or {}).get("membres") or []]
    pairs = [p for p in (contexte or {}).get("paires") or []
             if member_id not in (p.get("id_a"), p.get("id_b")) and p.get("score") is not None]
    weakest = min(pairs, key=lambda p: (p["score"], p.get("id_a", ""), p.get("id_b", ""))) if pairs else None
    return {"n": len([m for m in members if m != member_id]),
            "score": None if weakest is None else weakest["score"],
            "paire": "" if weakest is None else f"{weakest.get('id_a')} – {weakest.get('id_b')}"}


def deleted_parents(contexte: dict, changes) -> list[dict]:
    """Parents that the suggestion deletes (acteur_delete_as_parent), with their name and how many actors
    are repointed to the chosen parent, for the page's banner."""
    names = {m.get("identifiant_unique"): str((m.get("raw") or {}).get("nom") or "")
             for m in (contexte or {}).get("membres") or []}
    chosen = ((contexte or {}).get("parent") or {}).get("identifiant_unique", "")
    repointed = sum(1 for c in changes or [] if c.get("type") == "acteur_update_parent_id")
    return [{"id": c.get("identifiant_unique"), "nom": names.get(c.get("identifiant_unique"), ""),
             "vers": chosen, "rattaches": repointed}
            for c in changes or [] if c.get("type") == "acteur_delete_as_parent"]


def _probability(match_weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** -match_weight) if match_weight > -1000 else 0.0


def pairs_table(contexte: dict, details: dict | None = None) -> list[dict]:
    """The pairs, strongest first, each with its fields' scores and, when a learned model scored it, each
    comparison's contribution (log2 Bayes factor: + for, − against; 0 = no information) and the prior, as
    Splink's waterfall. `details` = {(id_a, id_b): cluster_pair.details} completes pairs whose context lacks
    the weights. The weakest pair (the suggestion's score) is flagged."""
    details = details or {}
    rows: list[dict] = []
    columns: list[str] = []
    for p in (contexte or {}).get("paires") or []:
        key = (p.get("id_a", ""), p.get("id_b", ""))
        d = {**(details.get(key) or {}), **p} if "weights" not in p else p
        fields = d.get("fields") or {}
        matched = list(d.get("matched") or [])
        weights = d.get("weights") if isinstance(d.get("weights"), dict) else None
        row = {"id_a": key[0], "id_b": key[1], "score": p.get("score"), "matched": matched,
               "fields": [{"name": k, "label": COMPARISON_LABELS.get(k, k), "score": v, "matched": k in matched}
                          for k, v in sorted(fields.items())],
               "distance_m": d.get("distance_m"), "weights": None, "weakest": False}
        if weights is not None:
            for k in weights:
                if k not in columns:
                    columns.append(k)
            total = d.get("match_weight")
            total = float(total) if isinstance(total, (int, float)) else sum(weights.values())
            row.update(weights=weights, match_weight=total, prior=total - sum(float(v) for v in weights.values()),
                       probability=_probability(total))
        rows.append(row)
    rows.sort(key=lambda r: (-(r["score"] or 0), r["id_a"], r["id_b"]))
    scored = [r for r in rows if r["score"] is not None]
    if scored:
        min(scored, key=lambda r: (r["score"], r["id_a"], r["id_b"]))["weakest"] = True
    scale = max([abs(float(v)) for r in rows if r["weights"] for v in [*r["weights"].values(), r["prior"]]] or [1.0])
    order = [c for c in COMPARISON_LABELS if c in columns] + [c for c in columns if c not in COMPARISON_LABELS]
    for r in rows:
        if r["weights"] is None:
            continue
        r["bars"] = [_bar("A priori", r["prior"], scale, "prior")] + [
            _bar(COMPARISON_LABELS.get(c, c), r["weights"].get(c), scale, c) for c in order]
    return rows


def explanation_header(rows: list[dict]) -> list[str]:
    """The waterfall's column labels (the same order in every explained row), [] when no pair has weights."""
    return next(([b["label"] for b in r["bars"]] for r in rows if r.get("bars")), [])


def _bar(text: str, value, scale: float, name: str) -> dict:
    """One signed bar of the waterfall: width in % of the largest contribution on the page."""
    if value is None:
        return {"name": name, "label": text, "value": None, "sign": "none", "width": 0, "text": "—"}
    v = float(value)
    return {"name": name, "label": text, "value": v, "sign": "pos" if v > 0 else ("neg" if v < 0 else "zero"),
            "width": round(100 * abs(v) / scale) if scale else 0, "text": f"{v:+.1f}".replace(".", ",")}


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
            cells.append("sans coordonnées" if d is None else f"{round(d):,}".replace(",", " ") + " m")
        rows.append({"id": a, "cells": cells})
    return {"ids": ids, "rows": rows}


def ordered_changes(changes) -> list[dict]:
    out = []
    for c in sorted(changes or [], key=lambda c: (int(c.get("order", 0)), str(c.get("identifiant_unique")))):
        out.append({"order": c.get("order"), "type": c.get("type"), "label": CHANGE_LABELS.get(c.get("type"), c.get("type")),
                    "id": c.get("identifiant_unique"),
                    "parent_id": c.get("parent_id", ""),
                    "data": ", ".join(f"{k}={_fmt(v)}" for k, v in (c.get("data") or {}).items())})
    return out


def member_names(contexte: dict) -> list[str]:
    return [str((m.get("raw") or {}).get("nom") or m.get("identifiant_unique") or "")
            for m in (contexte or {}).get("membres") or []]


def _coords(raw: dict) -> tuple[float, float] | None:
    try:
        lat, lon = float(raw.get("latitude")), float(raw.get("longitude"))
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _nice(length: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above `length` (the scale bar)."""
    k = 10 ** math.floor(math.log10(length))
    return next(m * k for m in (5, 2, 1) if m * k <= length)


MAP_W, MAP_H, MAP_PAD = 420, 300, 34


def members_map(contexte: dict) -> dict:
    """An offline map of the members: inline SVG (no tile server), positions in metres around the members'
    centre (equirectangular projection, exact enough over a few km), one labelled point per member with
    coordinates, the proposed parent's position drawn as a square. Returns {"svg", "points", "sans_coordonnees",
    "etendue_m"}; "svg" is "" when fewer than one member has coordinates."""
    members = list((contexte or {}).get("membres") or [])
    parent = (contexte or {}).get("parent") or {}
    letters = _letters(len(members))
    points, missing = [], []
    for m, x in zip(members, letters):
        c = _coords(m.get("raw") or {})
        entry = {"lettre": x, "id": m.get("identifiant_unique", ""), "nom": str((m.get("raw") or {}).get("nom") or ""),
                 "est_parent": bool(m.get("est_parent"))}
        (points.append({**entry, "lat": c[0], "lon": c[1]}) if c else missing.append(entry))
    if not points:
        return {"svg": "", "points": 0, "sans_coordonnees": missing, "etendue_m": 0}
    lat0 = sum(p["lat"] for p in points) / len(points)
    lon0 = sum(p["lon"] for p in points) / len(points)
    kx, ky = 111_320.0 * math.cos(math.radians(lat0)), 110_574.0

    def metres(lat, lon):
        return (lon - lon0) * kx, (lat - lat0) * ky

    pc = _coords(parent.get("data") or {})
    xy = [metres(p["lat"], p["lon"]) for p in points] + ([metres(*pc)] if pc else [])
    half = max([10.0] + [max(abs(x), abs(y)) for x, y in xy]) * 1.15
    scale = min(MAP_W - 2 * MAP_PAD, MAP_H - 2 * MAP_PAD) / (2 * half)  # px per metre, same on both axes

    def px(x, y):
        return MAP_W / 2 + x * scale, MAP_H / 2 - y * scale

    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" id="carte-membres" viewBox="0 0 {MAP_W} {MAP_H}" '
            f'width="{MAP_W}" height="{MAP_H}" role="img" aria-label="Carte des membres (mètres autour du centre)">'),
           f'<rect x="0" y="0" width="{MAP_W}" height="{MAP_H}" fill="#f8f9fa" stroke="#ccc"/>',
           f'<line x1="{MAP_W / 2}" y1="8" x2="{MAP_W / 2}" y2="{MAP_H - 8}" stroke="#e3e3e3"/>',
           f'<line x1="8" y1="{MAP_H / 2}" x2="{MAP_W - 8}" y2="{MAP_H / 2}" stroke="#e3e3e3"/>']
    if pc:
        x, y = px(*metres(*pc))
        out.append(f'<rect class="parent-propose" x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" '
                   f'fill="none" stroke="#1e7e34" stroke-width="2.5"><title>parent proposé '
                   f'{escape(str(parent.get("identifiant_unique", "")))}</title></rect>')
    seen: dict[tuple[int, int], int] = {}
    for p, (x_m, y_m) in zip(points, xy):
        x, y = px(x_m, y_m)
        stack = seen.get((round(x), round(y)), 0)  # members at one position: labels side by side
        seen[(round(x), round(y))] = stack + 1
        colour = "#1e7e34" if p["est_parent"] else "#205493"
        out.append(f'<circle class="membre" data-id="{escape(p["id"])}" cx="{x:.1f}" cy="{y:.1f}" r="5" '
                   f'fill="{colour}"><title>{escape(p["lettre"])} : {escape(p["id"])} — {escape(p["nom"])} '
                   f'({round(math.hypot(x_m, y_m))} m du centre)</title></circle>')
        out.append(f'<text x="{x + 8 + 14 * stack:.1f}" y="{y - 6:.1f}" font-size="13" font-weight="bold" '
                   f'fill="{colour}">{escape(p["lettre"])}</text>')
    bar_m = _nice(half)
    bar_px = bar_m * scale
    out.append(f'<line x1="12" y1="{MAP_H - 14}" x2="{12 + bar_px:.1f}" y2="{MAP_H - 14}" stroke="#333" '
               'stroke-width="3"/>')
    bar_txt = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    out.append(f'<text x="12" y="{MAP_H - 20}" font-size="11" fill="#333">{bar_txt}</text>')
    out.append('</svg>')
    return {"svg": "".join(out), "points": len(points), "sans_coordonnees": missing, "etendue_m": round(half)}
