"""Cleaning rules on real-looking values (pure functions, no database)."""
from __future__ import annotations

import pytest

from data_platform.ingest import cleaning as c
from data_platform.ingest.config import load_sources


@pytest.mark.parametrize("raw, expected", [
    ("1000", "01000"), (1000, "01000"), (1000.0, "01000"), ("1000.0", "01000"), ("75002", "75002"),
    ("13001 CEDEX 01", "13001"), ("75 002", "75002"), ("20200", "20200"), ("97400", "97400"),
    ("n/a", ""), ("", ""), (None, ""), ("ABCDE", ""), ("123", ""), ("00123", ""),
])
def test_code_postal(raw, expected):
    assert c.clean_code_postal(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("12 rue de la Paix 75002 Paris", ("12 rue de la Paix", "75002", "Paris")),
    ("ZI Nord, 12 av. X 13001 Marseille CEDEX 01", ("ZI Nord, 12 av. X", "13001", "Marseille")),
    ("12 rue X ; 1000 ; Bourg-en-Bresse", ("12 rue X", "01000", "Bourg-en-Bresse")),
    ("12 rue X - 75002 - Paris", ("12 rue X", "75002", "Paris")),
    ("5, rue Pasteur, 69003 Lyon", ("5, rue Pasteur", "69003", "Lyon")),
    ("3 rue Zola 75011 PARIS CEDEX", ("3 rue Zola", "75011", "PARIS")),
    ("ZI Nord, 80 quai de la Marne 97400 SAINT-DENIS CEDEX 06", ("ZI Nord, 80 quai de la Marne", "97400", "SAINT-DENIS")),
    ("12 rue du 8 mai 1945 44000 Nantes", ("12 rue du 8 mai 1945", "44000", "Nantes")),
    ("Lieu-dit Les Granges", ("Lieu-dit Les Granges", "", "")),
    ("null", ("", "", "")),
])
def test_split_adresse_ban(raw, expected):
    assert c.split_adresse_ban(raw) == expected


def test_siret_siren():
    assert c.clean_siret("732 829 320 00074") == "73282932000074"
    assert c.clean_siret("73282932000075") == ""            # Luhn fails
    assert c.clean_siret("7328293200007") == ""              # 13 digits, no valid zero-padded form
    assert c.clean_siret("35600000000048") == "35600000000048"  # La Poste: sum of digits multiple of 5
    assert c.clean_siret(73282932000074.0) == "73282932000074"  # from a spreadsheet
    assert c.clean_siret("n/a") == ""
    assert c.clean_siren("732 829 320") == "732829320"
    assert c.clean_siren("732829321") == ""
    assert c.clean_siren("", siret="73282932000074") == "732829320"


@pytest.mark.parametrize("raw, expected", [
    ("01 23 45 67 89", "0123456789"), ("33123456789", "0123456789"), ("+33 1 23 45 67 89", "0123456789"),
    ("0033123456789", "0123456789"), ("123456789", "0123456789"), ("01.23.45.67.89", "0123456789"),
    ("06 12 34 56 78", "0612345678"), ("0262 21 34 56", "0262213456"), ("+41 22 123 45 67", "+41221234567"),
    ("-", ""), ("12", ""), ("none", ""),
])
def test_telephone(raw, expected):
    assert c.clean_telephone(raw) == expected


def test_coordinates():
    assert c.parse_geopoint("48.8686,2.3412") == (48.8686, 2.3412)
    assert c.parse_geopoint("") == (None, None)
    assert c.clean_coordinates("48,8686", "2,3412") == (48.8686, 2.3412)   # decimal comma
    assert c.clean_coordinates(2.3412, 48.8686) == (48.8686, 2.3412)       # swapped in metropolitan France
    assert c.clean_coordinates(-20.88, 55.45) == (-20.88, 55.45)           # La Réunion is not "swapped"
    assert c.clean_coordinates(95, 2) == (None, None)
    assert c.clean_coordinates(0, 0) == (None, None)
    assert c.clean_coordinates("null", "2.3") == (None, None)


@pytest.mark.parametrize("raw", ["null", "NULL", "n/a", "N/A", "NA", "-", "", "  ", "none", None])
def test_null_like(raw):
    assert c.clean_text(raw) == ""


def test_text_email_url():
    assert c.clean_text("  Ressourcerie   du  Coin ") == "Ressourcerie du Coin"
    assert c.clean_email(" Contact@Exemple.FR ") == "contact@exemple.fr"
    assert c.clean_email("pas un email") == ""
    assert c.clean_url("www.exemple.fr") == "https://www.exemple.fr"
    assert c.clean_url("http://exemple.fr/a") == "http://exemple.fr/a"


def test_identifiant_unique():
    assert c.identifiant_unique("refashion", "REF 0001/A") == "refashion_REF0001-A"
    assert c.identifiant_unique("sinoe", "100021") == "sinoe_100021"
    assert c.identifiant_unique("ecosystem", " a\tb / c ") == "ecosystem_ab-c"


def _cfg(code):
    return next(s for s in load_sources() if s.code == code)


def test_clean_row_eco_organisme():
    raw = {"id_point_apport_ou_reparation": "REF 12/B", "nom_de_lorganisme": "null",
           "enseigne_commerciale": "Emmaüs Bourg", "siret": "732 829 320 00074", "siren": "",
           "adresse_format_ban": "12 rue de la Paix ; 1000 ; Bourg-en-Bresse CEDEX", "adresse_complement": "n/a",
           "latitudewgs84": "5.2255", "longitudewgs84": "46.2052", "telephone": "33474000000",
           "email": "-", "site_web": "emmaus-bourg.fr",
           "type_de_point_de_collecte": "ACTEUR DE L'ECONOMIE SOCIALE ET SOLIDAIRE", "_geopoint": "46.2,5.2"}
    row, rejection = c.clean_row(raw, _cfg("refashion"))
    assert rejection is None
    assert row == {
        "identifiant_unique": "refashion_REF12-B", "identifiant_externe": "REF 12/B", "source": "refashion",
        "acteur_type": "ess", "nom": "Emmaüs Bourg", "nom_commercial": "Emmaüs Bourg",
        "siren": "732829320", "siret": "73282932000074", "adresse": "12 rue de la Paix",
        "adresse_complement": "", "code_postal": "01000", "ville": "Bourg-en-Bresse",
        "latitude": 46.2052, "longitude": 5.2255, "telephone": "0474000000", "email": "",
        "url": "https://emmaus-bourg.fr"}


def test_clean_row_geopoint_fallback_and_default_type():
    raw = {"id_point_apport_ou_reparation": "X1", "nom_de_lorganisme": "Darty Nice",
           "adresse_format_ban": "1 av. Jean Médecin 6000 Nice", "latitudewgs84": None, "longitudewgs84": "",
           "type_de_point_de_collecte": "", "_geopoint": "43.7031,7.2661"}
    row, _ = c.clean_row(raw, _cfg("ecosystem"))
    assert (row["latitude"], row["longitude"], row["code_postal"], row["acteur_type"]) == (43.7031, 7.2661, "06000", "commerce")


def test_clean_row_sinoe():
    raw = {"C_SERVICE": 100021, "N_SERVICE": "DECHETERIE DE GAP", "AD1_SITE": "ZA Les Eyssagnières",
           "CP_SITE": 5000, "L_VILLE_SITE": "GAP", "GPS_LAT": 44.55, "GPS_LONG": 6.07}
    row, _ = c.clean_row(raw, _cfg("sinoe"))
    assert row["identifiant_unique"] == "sinoe_100021"
    assert (row["code_postal"], row["ville"], row["acteur_type"]) == ("05000", "GAP", "decheterie")


@pytest.mark.parametrize("raw, field, reason", [
    ({"id_point_apport_ou_reparation": " ", "nom_de_lorganisme": "A"}, "id_point_apport_ou_reparation", "empty identifier"),
    ({"id_point_apport_ou_reparation": "n/a", "nom_de_lorganisme": "A"}, "id_point_apport_ou_reparation", "empty identifier"),
    ({"id_point_apport_ou_reparation": "X", "nom_de_lorganisme": "null", "enseigne_commerciale": "-"},
     "nom_de_lorganisme", "empty name"),
])
def test_clean_row_rejections(raw, field, reason):
    row, rejection = c.clean_row(raw, _cfg("corepile"))
    assert row is None and rejection.field == field and reason in rejection.reason


def test_fast_paths_agree_with_the_libraries(monkeypatch):
    """The fast paths (national phone pattern, plain Luhn) give what phonenumbers / stdnum give."""
    import random
    import re

    from stdnum.fr import siret as stdnum_siret

    rng = random.Random(3)
    phones = ["0" + "".join(rng.choice("0123456789") for _ in range(9)) for _ in range(3000)]
    # a spreadsheet's '33…' without its '+': 9 digits after the country code, overseas prefixes included
    phones += ["33" + "".join(rng.choice("0123456789") for _ in range(9)) for _ in range(3000)]
    phones += ["33262213456", "33692123456", "33590123456", "33612345678"]
    fast = [c.clean_telephone(p) for p in phones]
    monkeypatch.setattr(c, "_NATIONAL_VALID", re.compile(r"(?!)"))
    monkeypatch.setattr(c, "_FR_VALID", re.compile(r"(?!)"))
    assert fast == [c.clean_telephone(p) for p in phones]
    assert sum(1 for f in fast[:3000] if f) > 1000 and sum(1 for f in fast[3000:] if f) > 1000
    sirets = ["".join(rng.choice("0123456789") for _ in range(14)) for _ in range(5000)]
    sirets += ["35600000000048", "35600000012345", "35600000049837"]
    assert [bool(c.clean_siret(s)) for s in sirets] == [stdnum_siret.is_valid(s) for s in sirets]
