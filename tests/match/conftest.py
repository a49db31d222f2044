"""Fixtures of the match tests: a database with known actors (orphans, a parent and its children) and the match
index built from dbt's displayed layer."""
from __future__ import annotations

import pytest

from data_platform.suggestions import sample

KNOWN = [
    sample.acteur("ecosystem_e1", "Ressourcerie du Centre", source="ecosystem", adresse="12 rue de la Paix",
                  code_postal="75002", ville="Paris", latitude=48.8686, longitude=2.3312, telephone="0142000001",
                  siret="12345678900012"),
    sample.acteur("refashion_r1", "Cordonnerie Martin", source="refashion", adresse="3 avenue Jean Jaurès",
                  code_postal="69003", ville="Lyon", latitude=45.7580, longitude=4.8500),
    sample.acteur("sinoe_s1", "Déchèterie de Claret", source="sinoe", adresse="route de Lyon",
                  code_postal="04000", ville="Digne-les-Bains", latitude=44.0925, longitude=6.2356),
    sample.acteur("cma_c1", "Garage Dubois", source="cma", adresse="8 bd Gambetta", code_postal="33000",
                  ville="Bordeaux", latitude=44.8378, longitude=-0.5792),
    # two children hidden behind their parent: the parent is known, the children are not displayed
    sample.acteur("ecomaison_m1", "Emmaüs Bastia", source="ecomaison", adresse="5 quai de la Marne",
                  code_postal="20200", ville="Bastia", latitude=42.6973, longitude=9.4509),
    sample.acteur("corepile_p1", "Emmaus Bastia", source="corepile", adresse="5 quai de la Marne",
                  code_postal="20200", ville="Bastia", latitude=42.6974, longitude=9.4509),
    sample.acteur("cma_gone", "Recyclerie Fermée", source="cma", adresse="1 rue Pasteur", code_postal="38000",
                  ville="Grenoble", statut="SUPPRIME"),
]
PARENT = sample.parent("parent_bastia", "Emmaüs Bastia", adresse="5 quai de la Marne", code_postal="20200",
                       ville="Bastia", latitude=42.6973, longitude=9.4509)


@pytest.fixture
def known(db):
    """The known actors loaded, dbt's displayed layer built and the match index rebuilt from it."""
    from data_platform.match import index

    with db.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    sample.insert_acteurs(db, KNOWN)
    sample.insert_revisions(db, [PARENT, {"identifiant_unique": "ecomaison_m1", "parent_id": "parent_bastia"},
                                 {"identifiant_unique": "corepile_p1", "parent_id": "parent_bastia"}])
    db.commit()
    index.rebuild(db, refresh_dbt=True)
    db.commit()
    yield db
    with db.cursor() as cur:
        cur.execute("drop schema if exists match cascade")
    db.commit()
