"""Schema, reference data and the embedded server."""
from data_platform.db.migrate import migrate


def _count(conn, table):
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return cur.fetchone()[0]


def test_reference_data_is_idempotent(db):
    migrate()
    migrate()
    assert _count(db, "acteur_type") == 11
    assert _count(db, "source") == 12
    with db.cursor() as cur:
        cur.execute("select code from acteur_type order by code")
        codes = [r[0] for r in cur.fetchall()]
    assert "decheterie" in codes and "pav_ponctuel" in codes


def test_schema_defaults_allow_plain_sql_inserts(db):
    with db.cursor() as cur:
        cur.execute("insert into acteur (identifiant_unique, source, acteur_type, nom) "
                    "values ('refashion_1', 'refashion', 'commerce', 'Boutique')")
        cur.execute("select statut, siret, email, latitude, cree_le is not null from acteur")
        assert cur.fetchone() == ("ACTIF", "", "", None, True)
        cur.execute("insert into revision_acteur (identifiant_unique, nom) values ('parent_x', 'Parent')")
        cur.execute("update revision_acteur set parent_id = 'parent_x' where identifiant_unique = 'parent_x'")
        cur.execute("select source, statut from revision_acteur")
        assert cur.fetchone() == (None, "")


def test_reviewer_group_has_decide_permission(db):
    from django.contrib.auth.models import Group

    perms = set(Group.objects.get(name="reviewer").permissions.values_list("codename", flat=True))
    assert "decide_suggestion" in perms
