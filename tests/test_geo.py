"""geo.py: one haversine, and the département rule of dbt in Python — checked against dbt itself (its
macros in a bound query, and int_acteur_normalise) on every postal code of the reference data."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from data_platform import geo
from data_platform.db.connection import copy_rows
from data_platform.generate.geography import DATA_DIR as GENERATOR_DATA_DIR
from tests.dbt.helpers import dbt

# the reference data the seeds were built from (outside the repository: used when present)
SHARED_REFERENCE = Path("/work/shared/reference")


# -- distance ------------------------------------------------------------------------------------------

def test_haversine_vectorized_and_scalar_are_one_formula():
    paris_lyon = geo.haversine_m(48.8566, 2.3522, 45.7640, 4.8357)
    assert 391_000 < paris_lyon < 392_500
    lat1, lon1 = np.array([48.8566, 45.0, np.nan]), np.array([2.3522, 5.0, 1.0])
    lat2, lon2 = np.array([45.7640, 45.0, 45.0]), np.array([4.8357, 5.0, 1.0])
    d = geo.haversine_m(lat1, lon1, lat2, lon2)
    assert d[0] == paris_lyon and d[1] == 0.0 and math.isnan(d[2])
    assert geo.distance_m((48.8566, 2.3522), ("45.7640", "4.8357")) == paris_lyon
    assert geo.distance_m((0, 0), (0, 180)) == pytest.approx(math.pi * geo.EARTH_RADIUS_M)


@pytest.mark.parametrize("a, b", [((None, 2.0), (45.0, 4.0)), (("", 2.0), (45.0, 4.0)), ((48.0, 2.0), None),
                                  ((float("nan"), 2.0), (45.0, 4.0)), ((48.0,), (45.0, 4.0))])
def test_distance_unknown_when_a_coordinate_is_missing(a, b):
    assert geo.distance_m(a, b) is None


# -- département ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cp, dep", [("01000", "01"), ("1000", "01"), ("20000", "2A"), ("20137", "2A"),
                                     ("20200", "2B"), ("97400", "974"), ("97110", "971"), ("75002", "75"),
                                     ("98000", "inconnu"), ("", "inconnu")])
def test_departement(cp, dep):
    assert geo.departement_from_postal_code(cp) == dep


@pytest.mark.parametrize("cp, ville, dep", [
    ("05110", "Claret", "04"), ("5110", "CLARET CEDEX", "04"), ("05110", "La Saulce", "05"),
    ("06260", "La Rochette", "04"), ("06260", "St Pierre", "04"), ("94390", "Paray-Vieille-Poste", "91"),
    ("94390", "Orly", "94"), ("75011 CEDEX 11", "PARIS CEDEX 11", "75"), ("1000.0", "", "01"),
    ("97500", "Saint-Pierre", "inconnu"), ("00100", "", "inconnu"), ("ABC", "", "inconnu"), (None, None, "inconnu"),
])
def test_departement_exceptions_and_faults(cp, ville, dep):
    assert geo.departement_from_postal_code(cp, ville) == dep


def test_departements_vectorized():
    out = geo.departements_from_postal_codes(["05110", "05110", "20200", ""], ["Claret", "Gap", "Bastia", ""])
    assert out.tolist() == ["04", "05", "2B", "inconnu"]


# -- Python and dbt agree --------------------------------------------------------------------------------

def _csv_rows(name: str) -> list[dict]:
    rows = []
    for folder in (geo.SEEDS_DIR, SHARED_REFERENCE):
        if (folder / name).exists():
            with open(folder / name, encoding="utf-8", newline="") as fh:
                rows += list(csv.DictReader(fh))
    return rows


def _reference_pairs() -> list[tuple[str, str]]:
    """(postal code, city) of the reference data, with the faults sources have, and a sweep of prefixes."""
    pairs = set()
    for r in _csv_rows("postal_code_departement_exceptions.csv"):
        cp, commune = r["code_postal"], r["nom_commune"]
        for ville in (commune, commune.upper(), f"La {commune}", f"{commune} CEDEX", "Ailleurs"):
            pairs |= {(cp, ville), (cp.lstrip("0"), ville), (cp + " CEDEX", ville)}
    with open(GENERATOR_DATA_DIR / "communes.csv", encoding="utf-8", newline="") as fh:
        pairs |= {(r["code_postal"], r["nom"]) for r in csv.DictReader(fh)}
    for r in _csv_rows("departements.csv"):  # each département's first and last postal codes
        first = {"2A": "20000", "2B": "20200"}.get(r["code"], r["code"].ljust(5, "0"))
        last = {"2A": "20199", "2B": "20999"}.get(r["code"], r["code"].ljust(5, "9"))
        pairs |= {(first, ""), (last, "")}
    pairs |= {(f"{p:03d}{s}", "") for p in range(1000) for s in ("00", "99")}  # every 3-digit prefix
    pairs |= {(cp, "") for cp in ("", "ABC", "123456", "1000", "1000.0", " 75002 ", "75 002", "75011 cedex 11",
                                  "2A004", "98000", "97500")}
    return sorted(pairs)


def test_python_and_dbt_macros_agree_on_every_postal_code(database_url):
    """The macros of dbt_project/macros/normalize.sql, compiled by dbt and run by PostgreSQL on bound arrays,
    against their Python forms: every 4- and 5-digit code, and the reference data's postal codes and cities."""
    pairs = _reference_pairs()
    codes = sorted({cp for cp, _ in pairs} | {f"{i:05d}" for i in range(100_000)} | {f"{i:04d}" for i in range(10_000)})
    villes = sorted({v for _, v in pairs})
    query = """
        select u.cp, {{ normalize_code_postal('u.cp') }},
               {{ departement_from_postal_code(normalize_code_postal('u.cp')) }}
        from unnest(%(codes)s::text[]) as u(cp)"""
    proc = dbt(["compile", "--quiet", "--inline", query])
    compiled = proc.stdout.strip()
    assert compiled.count("%") == 1, "only the bound parameter may hold a %"
    ville_query = "select v, {{ normalize_ville('v') }} from unnest(%(villes)s::text[]) as u(v)"
    ville_compiled = dbt(["compile", "--quiet", "--inline", ville_query]).stdout.strip()
    assert ville_compiled.count("%") == 1

    from data_platform.db.connection import connect

    with connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(compiled, {"codes": codes})
        by_dbt = {cp: (norm, dep) for cp, norm, dep in cur.fetchall()}
        cur.execute(ville_compiled, {"villes": villes})
        villes_dbt = dict(cur.fetchall())
    assert len(by_dbt) == len(codes) > 110_000
    by_python = {cp: (geo.normalize_code_postal(cp), geo.departement_by_prefix(geo.normalize_code_postal(cp)))
                 for cp in codes}
    assert {cp: v for cp, v in by_python.items() if by_dbt[cp] != v} == {}
    assert {v: geo.normalize_ville(v) for v in villes if villes_dbt[v] != geo.normalize_ville(v)} == {}


def test_python_and_dbt_departement_agree_on_the_reference_data(db):
    """The whole rule (exceptions seed on postal code and commune, prefix rule, departements seed), as
    int_acteur_normalise computes it, against geo.departement_from_postal_code."""
    pairs = _reference_pairs()
    rows = [(f"refashion_geo{i}", f"geo{i}", "refashion", "commerce", "Acteur", cp, ville)
            for i, (cp, ville) in enumerate(pairs)]
    copy_rows(db, "acteur", ["identifiant_unique", "identifiant_externe", "source", "acteur_type", "nom",
                             "code_postal", "ville"], rows)
    db.commit()
    dbt(["build", "--select", "+int_acteur_normalise"])
    with db.cursor() as cur:
        cur.execute("select identifiant_unique, departement from dbt.int_acteur_normalise")
        by_dbt = dict(cur.fetchall())
    assert len(by_dbt) == len(pairs) > 2000
    python = geo.departements_from_postal_codes([cp for cp, _ in pairs], [v for _, v in pairs])
    disagree = {(cp, ville): (by_dbt[ident], dep) for (ident, *_, cp, ville), dep in zip(rows, python, strict=True)
                if by_dbt[ident] != dep}
    assert disagree == {}
    assert {"04", "2A", "2B", "974", "inconnu"} <= set(by_dbt.values())
