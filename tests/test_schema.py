"""The field catalogue (data_platform/schema.py) against the Django models and the migrated tables, and the
lists derived from it against their users."""
from __future__ import annotations

import pytest

from data_platform import reference, schema


@pytest.fixture(scope="module")
def models(database_url):
    from data_platform.webapp.setup import setup_django

    setup_django()
    from data_platform.webapp.acteurs.models import Acteur, RevisionActeur

    return {"acteur": Acteur, "revision_acteur": RevisionActeur}


def _columns(model) -> dict:
    return {f.column: f for f in model._meta.concrete_fields}


@pytest.mark.parametrize("table, expected", [("acteur", schema.ACTEUR_TABLE_COLUMNS),
                                             ("revision_acteur", schema.REVISION_TABLE_COLUMNS)])
def test_catalogue_has_the_columns_of_the_models(models, table, expected):
    assert sorted(_columns(models[table])) == sorted(expected)


@pytest.mark.parametrize("table", ["acteur", "revision_acteur"])
def test_kinds_and_references_match_the_models(models, table):
    from django.db import models as m

    for column, f in _columns(models[table]).items():
        field = schema.BY_NAME[column]
        assert isinstance(f, m.FloatField) == (field.kind == schema.COORDINATE), column
        assert isinstance(f, m.DateTimeField) == (field.kind == schema.TIMESTAMP), column
        target = f.related_model._meta.db_table if f.is_relation else None
        assert target == field.references, column
        blank_text = isinstance(f, (m.CharField, m.TextField)) and not f.null  # '' rather than NULL
        assert blank_text == (column in schema.BLANK_TEXT_COLUMNS), column
        if field.kind == schema.STATUS:
            assert tuple(v for v, _ in f.choices) == schema.STATUTS


@pytest.mark.parametrize("table, expected", [("acteur", schema.ACTEUR_TABLE_COLUMNS),
                                             ("revision_acteur", schema.REVISION_TABLE_COLUMNS)])
def test_catalogue_has_the_columns_of_the_tables(db, table, expected):
    with db.cursor() as cur:
        cur.execute("select column_name from information_schema.columns where table_schema = 'public' "
                    "and table_name = %s", (table,))
        assert sorted(r[0] for r in cur.fetchall()) == sorted(expected)


def test_derived_lists():
    assert schema.ACTEUR_COLUMNS == [
        "identifiant_unique", "identifiant_externe", "source", "acteur_type", "statut", "nom", "nom_commercial",
        "siren", "siret", "adresse", "adresse_complement", "code_postal", "ville", "latitude", "longitude",
        "telephone", "email", "url"]
    assert schema.REVISION_COLUMNS == schema.ACTEUR_COLUMNS + ["parent_id"]
    assert schema.SOURCE_COLUMNS == [c for c in schema.ACTEUR_COLUMNS if c != "statut"]
    assert schema.COORDINATE_COLUMNS == ["latitude", "longitude"]
    assert set(schema.TEXT_COLUMNS) | set(schema.COORDINATE_COLUMNS) == set(schema.ACTEUR_COLUMNS)
    # SPEC §3.1 step 5: identity fields are never copied into a parent
    assert schema.IDENTITY_FIELDS == {"identifiant_unique", "identifiant_externe", "source", "statut", "parent_id",
                                      "cree_le", "modifie_le"}
    assert set(schema.COPYABLE_FIELDS) | schema.IDENTITY_FIELDS == {f.name for f in schema.FIELDS}
    assert schema.names(kind=schema.COORDINATE, copyable=True) == ["latitude", "longitude"]
    with pytest.raises(TypeError):
        schema.names(colour="red")
    with pytest.raises(ValueError, match="never copied"):
        schema.Field("x", schema.IDENTITY, copyable=True)


def test_change_records_use_the_catalogue_lists():
    from data_platform.changes import records

    assert records.COPYABLE_FIELDS == schema.COPYABLE_FIELDS
    assert records.IDENTITY_FIELDS == schema.IDENTITY_FIELDS


def test_cleaned_rows_have_the_source_columns_in_order():
    from data_platform.ingest.cleaning import clean_row
    from data_platform.ingest.config import load_sources

    cfg = next(s for s in load_sources() if s.code == "refashion")
    raw = {"id_point_apport_ou_reparation": "REF1", "nom_de_lorganisme": "Atelier", "adresse_format_ban":
           "1 rue de la Paix 75002 Paris", "type_de_point_de_collecte": "ACTEUR DE L'ECONOMIE SOCIALE ET SOLIDAIRE"}
    row, rejection = clean_row(raw, cfg)
    assert rejection is None and list(row) == schema.SOURCE_COLUMNS


def test_parent_source_priority_lists_every_source_once():
    priority = reference.PARENT_SOURCE_PRIORITY
    assert len(set(priority)) == len(priority)
    assert set(priority) == {code for code, _, _ in reference.SOURCES}
    assert priority[:3] == ("sinoe", "refashion", "ecosystem")


def test_identifiant_unique_scalar_and_vectorized_agree():
    import pandas as pd

    ext = ["REF 0001/A", "100021", " a\tb / c ", "x\u00a0y"]
    vectorized = schema.derive_identifiant_unique(pd.Series(["refashion"] * 4), pd.Series(ext)).tolist()
    assert vectorized == [schema.identifiant_unique("refashion", e) for e in ext]
    assert vectorized[:3] == ["refashion_REF0001-A", "refashion_100021", "refashion_ab-c"]
