"""load-csv: validation with line/field/reason, all-or-nothing, --skip-invalid, upsert, Python API."""
from __future__ import annotations

import pytest

from data_platform.cli import main
from data_platform.generate.output import write_csv
from data_platform.generate.population import generate
from data_platform.load_csv import load_acteurs, read_acteur_csv

HEADER = "source,identifiant_externe,acteur_type,nom,siret,siren,latitude,longitude,statut"
GOOD = "refashion,A1,commerce,Boutique,,,45.75,4.85,"


def _write(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(conn, query):
    with conn.cursor() as cur:
        cur.execute(query)
        out = cur.fetchall()
    conn.commit()
    return out


def test_happy_path_with_absent_optional_columns(db, tmp_path, capsys):
    path = _write(tmp_path, "source,identifiant_externe,acteur_type,nom\n"
                            "refashion,A 1/2,commerce,Boutique\n"
                            "cma,  B7 ,artisan,  Cordonnerie Martin \n")
    assert main(["load-csv", str(path)]) == 0
    assert '"inserted": 2' in capsys.readouterr().out
    rows = _rows(db, "select identifiant_unique, identifiant_externe, nom, statut, siret, latitude, "
                     "modifie_le is not null from acteur order by 1")
    assert rows == [("cma_B7", "B7", "Cordonnerie Martin", "ACTIF", "", None, True),
                    ("refashion_A1-2", "A 1/2", "Boutique", "ACTIF", "", None, True)]


def test_identifiant_unique_given_must_be_the_derived_one(tmp_path):
    path = _write(tmp_path, "identifiant_unique,source,identifiant_externe,acteur_type,nom\n"
                            "refashion_A1-2,refashion,A 1/2,commerce,X\n"
                            "my_id,refashion,B1,commerce,Y\n"
                            "cma_C1,refashion,C1,commerce,Z\n")
    df, errors = read_acteur_csv(path, {"refashion", "cma"}, {"commerce"})
    assert list(df["identifiant_unique"]) == ["refashion_A1-2"] and list(df.index) == [2]
    assert [(e.line, e.field, e.value) for e in errors] == [(3, "identifiant_unique", "my_id"),
                                                             (4, "identifiant_unique", "cma_C1")]
    assert "must be 'refashion_B1', the id derived from source + identifiant_externe" in errors[0].reason


@pytest.mark.parametrize("row, line, field, reason", [
    ("refashion,A2,commerce,,,,,,", 3, "nom", "required"),
    (",A2,commerce,X,,,,,", 3, "source", "required"),
    ("refashion,,commerce,X,,,,,", 3, "identifiant_externe", "required, but empty (identifiant_unique is derived"),
    ("nosuch,A2,commerce,X,,,,,", 3, "source", "unknown source"),
    ("refashion,A2,garage,X,,,,,", 3, "acteur_type", "unknown acteur_type"),
    ("refashion,A2,commerce,X,,,,,actif", 3, "statut", "ACTIF, INACTIF, SUPPRIME"),
    ("refashion,A2,commerce,X,,,abc,4.2,", 3, "latitude", "not a number"),
    ("refashion,A2,commerce,X,,,95,4.2,", 3, "latitude", "out of range"),
    ("refashion,A2,commerce,X,,,45.1,-181,", 3, "longitude", "out of range"),
    ("refashion,A2,commerce,X,,,45.1,,", 3, "longitude", "empty while latitude"),
    ("refashion,A2,commerce,X,1234567890123,,,,", 3, "siret", "14 digits"),
    ("refashion,A2,commerce,X,,12345678A,,,", 3, "siren", "9 digits"),
    ("refashion,A1,commerce,Again,,,,,", 3, "identifiant_unique", "duplicate of line 2"),
    ("refashion,A2,commerce,X,,,,", 3, "", "8 fields where the header has 9"),
])
def test_each_error_names_line_field_and_reason(tmp_path, row, line, field, reason):
    path = _write(tmp_path, f"{HEADER}\n{GOOD}\n{row}\n")
    df, errors = read_acteur_csv(path, {"refashion", "cma"}, {"commerce", "artisan"})
    assert len(errors) == 1, errors
    err = errors[0]
    assert (err.line, err.field) == (line, field) and reason in err.reason
    assert str(err).startswith(f"line {line}") and (not field or f"field '{field}'" in str(err))
    assert list(df.index) == [2]  # the valid row is kept


@pytest.mark.parametrize("text, field, reason", [
    ("source,identifiant_externe,acteur_type,nom,code_postale\n", "code_postale", "unknown column"),
    ("source,identifiant_externe,acteur_type\n", "nom", "required column missing"),
    ("source,acteur_type,nom\n", "identifiant_externe", "required column missing"),
    ("identifiant_unique,source,acteur_type,nom\n", "identifiant_externe", "required column missing"),
    ("source,source,identifiant_externe,acteur_type,nom\n", "source", "twice"),
    ("", "", "header line"),
    # ';' tab '|' are detected (tests/test_csv_input.py); another separator leaves a one-column header
    ("source:identifiant_externe:acteur_type:nom\n", "", "separated by ',' ';' tab or '|'"),
])
def test_header_errors_are_fatal(tmp_path, text, field, reason):
    df, errors = read_acteur_csv(_write(tmp_path, text), {"refashion"}, {"commerce"})
    assert len(df) == 0
    match = [e for e in errors if e.field == field and reason in e.reason]
    assert match and match[0].line == 1 and match[0].fatal


def test_line_numbers_follow_the_editor_with_blank_lines_and_multiline_fields(tmp_path):
    path = _write(tmp_path, f'{HEADER}\n\nrefashion,M1,commerce,"Deux\nlignes",,,,,\n'
                            "refashion,M2,commerce,X,,,,,BAD\n")
    df, errors = read_acteur_csv(path, {"refashion"}, {"commerce"})
    assert [(e.line, e.field) for e in errors] == [(5, "statut")]
    assert list(df.index) == [3] and df.loc[3, "nom"] == "Deux\nlignes"


def test_invalid_utf8_is_reported_with_its_line(tmp_path):
    """A UTF-8 file with one latin-1 line (mixed encodings) is refused at that line; a file that is latin-1
    throughout is read as Windows-1252 (issue 13 item 5: tests/test_csv_input.py)."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\nrefashion,A2,commerce,Déchèterie,,,,,\n".encode()
                     + "refashion,A3,commerce,Déchèterie,,,,,\n".encode("latin-1"))
    _df, errors = read_acteur_csv(path, {"refashion"}, {"commerce"})
    assert errors[0].line == 4 and "UTF-8" in errors[0].reason and errors[0].fatal


def test_errors_load_nothing_and_skip_invalid_loads_the_rest(db, tmp_path, capsys):
    rows = [GOOD] + [f"refashion,E{i},commerce,,,,,," for i in range(60)] + ["cma,C1,artisan,Garage,,,,,"]
    path = _write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    assert main(["load-csv", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 3, field 'nom': required" in err and "and 10 more errors (60 in all)" in err
    assert "nothing loaded" in err
    assert _rows(db, "select count(*) from acteur")[0][0] == 0
    assert main(["load-csv", str(path), "--skip-invalid"]) == 0
    out = capsys.readouterr().out
    assert '"skipped_rows": 60' in out and '"inserted": 2' in out
    assert _rows(db, "select identifiant_unique from acteur order by 1") == [("cma_C1",), ("refashion_A1",)]


def test_fatal_errors_are_not_skipped(db, tmp_path):
    path = _write(tmp_path, "source,identifiant_externe,acteur_type,nom,oops\nrefashion,A1,commerce,X,1\n")
    assert main(["load-csv", str(path), "--skip-invalid"]) == 2  # a file that cannot be used: status 2
    assert main(["load-csv", str(tmp_path / "missing.csv")]) == 2
    assert _rows(db, "select count(*) from acteur")[0][0] == 0


def test_upsert_updates_changed_rows_only(db, tmp_path):
    first = _write(tmp_path, f"{HEADER}\n{GOOD}\ncma,C1,artisan,Garage,,,,,\n", "a.csv")
    assert main(["load-csv", str(first)]) == 0
    before = dict(_rows(db, "select identifiant_unique, modifie_le from acteur"))
    second = _write(tmp_path, f"{HEADER}\nrefashion,A1,commerce,Boutique renommée,,,45.75,4.85,INACTIF\n"
                              "cma,C1,artisan,Garage,,,,,\n", "b.csv")
    df, errors = read_acteur_csv(second, conn=db)
    assert errors == []
    with pytest.raises(ValueError, match="line 2, field 'identifiant_unique': is an existing actor"):
        load_acteurs(db, df)
    db.rollback()
    assert load_acteurs(db, df, update_existing=True) == 1
    db.commit()
    after = {r[0]: r[1:] for r in _rows(db, "select identifiant_unique, modifie_le, nom, statut, cree_le < modifie_le "
                                            "from acteur")}
    assert after["refashion_A1"][1:] == ("Boutique renommée", "INACTIF", True)
    assert after["refashion_A1"][0] > before["refashion_A1"]
    assert after["cma_C1"][0] == before["cma_C1"]


def test_generated_csv_loads_with_its_ground_truth(db, tmp_path):
    path = tmp_path / "gen.csv"
    write_csv(generate(2000, 9), str(path))
    df, errors = read_acteur_csv(path, conn=db)
    assert errors == [] and len(df) == 2000
    assert load_acteurs(db, df) == 2000
    db.commit()
    assert _rows(db, "select count(*) from acteur")[0][0] == 2000
    assert _rows(db, "select count(distinct entity_id) from ground_truth")[0][0] == df["entity_id"].nunique()
    lat = _rows(db, "select count(*) from acteur where latitude is null")[0][0]
    assert lat == df["latitude"].isna().sum() > 0


def test_a_first_load_writes_what_the_upsert_writes(db, tmp_path):
    """Into an empty acteur the rows go in by one COPY; into a non-empty one by the upsert: same rows."""
    path = tmp_path / "gen.csv"
    write_csv(generate(300, 4), str(path))
    df, errors = read_acteur_csv(path, conn=db)
    assert errors == []
    columns = "identifiant_unique, identifiant_externe, source, acteur_type, statut, nom, siret, siren, adresse, " \
              "code_postal, ville, latitude, longitude, telephone, email, url, cree_le is not null, modifie_le is not null"
    from data_platform.load_csv import upsert_acteurs

    assert upsert_acteurs(db, df) == {"inserted": 300, "updated": 0, "unchanged": 0,
                                      "ground_truth": 300}
    db.commit()
    copied = _rows(db, f"select {columns} from acteur order by 1")
    with db.cursor() as cur:
        cur.execute("delete from ground_truth")
        cur.execute("delete from acteur where identifiant_unique <> %s", (df["identifiant_unique"].iloc[0],))
    db.commit()
    counts = upsert_acteurs(db, df, update_existing=True)   # one row already there: the upsert path
    db.commit()
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (299, 0, 1)
    assert _rows(db, f"select {columns} from acteur order by 1") == copied
    assert _rows(db, "select count(*) from ground_truth")[0][0] == 300


def test_a_first_load_still_checks_its_foreign_keys(db, tmp_path):
    """The first load adds the foreign keys back after its COPY: a row with an unknown code fails it."""
    import psycopg2

    from data_platform.load_csv import upsert_acteurs

    df, errors = read_acteur_csv(_write(tmp_path, f"{HEADER}\n{GOOD}\n"), conn=db)
    assert errors == []
    df.loc[df.index[0], "source"] = "no_such_source"
    with pytest.raises(psycopg2.errors.ForeignKeyViolation, match="no_such_source"):
        upsert_acteurs(db, df)
    db.rollback()
    keys = _rows(db, "select count(*) from pg_constraint where conrelid = 'acteur'::regclass and contype = 'f'")
    assert keys[0][0] == 2 and _rows(db, "select count(*) from acteur")[0][0] == 0


def _seed_parent_and_actors(db):
    """A parent with one child, a SINOE déchèterie, and an actor of source cma whose id looks like refashion's."""
    with db.cursor() as cur:
        cur.execute("""INSERT INTO acteur (identifiant_unique, identifiant_externe, source, acteur_type, nom, statut)
                       VALUES ('sinoe_D1', 'D1', 'sinoe', 'decheterie', 'Déchèterie de Lyon', 'ACTIF'),
                              ('refashion_C1', 'C1', 'refashion', 'commerce', 'Enfant', 'ACTIF'),
                              ('refashion_Z', 'Z', 'cma', 'artisan', 'Autre source', 'ACTIF')""")
        cur.execute("""INSERT INTO revision_acteur (identifiant_unique, nom, statut) VALUES ('refashion_P1', 'Parent', 'ACTIF')""")
        cur.execute("""INSERT INTO revision_acteur (identifiant_unique, source, parent_id)
                       VALUES ('refashion_C1', 'refashion', 'refashion_P1')""")
    db.commit()


def test_a_file_cannot_take_over_parents_other_sources_or_existing_actors(db, tmp_path, capsys):
    """Issue 13 item 1: the hijack CSV (an explicit id of a parent, of another source's actor, and a SINOE
    déchèterie overwritten as SUPPRIME) loads nothing; updating an existing actor needs --update-existing."""
    _seed_parent_and_actors(db)
    before = _rows(db, "select identifiant_unique, source, nom, statut from acteur order by 1")
    hijack = _write(tmp_path, "identifiant_unique,source,identifiant_externe,acteur_type,nom,statut\n"
                              "mon_parent,refashion,X1,commerce,Pris,ACTIF\n"      # explicit foreign id
                              ",refashion,P1,commerce,Pris aussi,ACTIF\n"           # derives to the parent's id
                              ",refashion,Z,commerce,Autre,ACTIF\n"                 # the id of a cma actor
                              ",sinoe,D1,decheterie,Déchèterie de Lyon,SUPPRIME\n"  # an existing actor
                              ",refashion,N1,commerce,Nouveau,ACTIF\n")
    assert main(["load-csv", str(hijack)]) == 1
    err = capsys.readouterr().err
    assert "line 2, field 'identifiant_unique': must be 'refashion_X1'" in err
    assert "line 3, field 'identifiant_unique': is the id of a parent" in err
    assert "line 4, field 'identifiant_unique': belongs to an actor of source 'cma'" in err
    assert "line 5, field 'identifiant_unique': is an existing actor: pass --update-existing" in err
    assert "nothing loaded" in err
    assert _rows(db, "select identifiant_unique, source, nom, statut from acteur order by 1") == before

    assert main(["load-csv", str(hijack), "--skip-invalid", "--update-existing"]) == 0
    out = capsys.readouterr().out
    assert '"inserted": 1' in out and '"updated": 1' in out and '"skipped_rows": 3' in out
    after = {r[0]: r[1:] for r in _rows(db, "select identifiant_unique, source, statut from acteur")}
    assert after["sinoe_D1"] == ("sinoe", "SUPPRIME") and after["refashion_N1"] == ("refashion", "ACTIF")
    assert after["refashion_Z"] == ("cma", "ACTIF") and "refashion_P1" not in after
    assert _rows(db, "select parent_id from revision_acteur where identifiant_unique = 'refashion_C1'") == \
        [("refashion_P1",)]


def test_a_first_load_rebuilds_the_indexes_and_still_refuses_a_parents_id(db, tmp_path, capsys):
    """An empty acteur table takes the rows by one COPY with its indexes built after it (the same indexes
    as before); a database holding parents (revision_acteur rows, no acteur yet) still refuses their ids."""
    indexes = "select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index " \
              "where indrelid = 'acteur'::regclass order by 1"
    before = _rows(db, indexes)
    assert len(before) > 1
    with db.cursor() as cur:
        cur.execute("INSERT INTO revision_acteur (identifiant_unique, nom, statut) VALUES ('refashion_P1', 'Parent', 'ACTIF')")
    db.commit()
    header = "source,identifiant_externe,acteur_type,nom,statut\n"
    parent = _write(tmp_path, header + "refashion,P1,commerce,Pris,ACTIF\nrefashion,N1,commerce,Nouveau,ACTIF\n")
    assert main(["load-csv", str(parent)]) == 1
    assert "line 2, field 'identifiant_unique': is the id of a parent" in capsys.readouterr().err
    assert _rows(db, "select count(*) from acteur") == [(0,)]
    assert main(["load-csv", str(parent), "--skip-invalid"]) == 0
    assert _rows(db, "select identifiant_unique from acteur") == [("refashion_N1",)]
    assert _rows(db, indexes) == before
    # the rebuilt indexes are used and hold every row
    with db.cursor() as cur:
        cur.execute("set enable_seqscan = off")
        cur.execute("select count(*) from acteur where source = 'refashion'")
        assert cur.fetchone() == (1,)
        cur.execute("reset enable_seqscan")


@pytest.mark.parametrize("field, value, valid", [
    ("code_postal", "ABCDE", False), ("code_postal", "1234567", False), ("code_postal", "99999", False),
    ("code_postal", "2A004'; --", False), ("code_postal", "00100", False), ("code_postal", "96000", False),
    ("code_postal", "75002", True), ("code_postal", "1000", True), ("code_postal", "20000", True),
    ("code_postal", "97400", True), ("code_postal", "13001 CEDEX", True),
    ("siret", "73282932000075", False), ("siret", "73282932000074", True),
    ("siret", "35600000000048", True),    # La Poste: its SIRETs fail Luhn, python-stdnum knows the exception
    ("siren", "732829321", False), ("siren", "732829320", True),
    ("telephone", "0000000000", False), ("telephone", "12", False), ("telephone", "0474000001", True),
    ("telephone", "+33 4 74 00 00 01", True),
])
def test_postal_code_siret_siren_and_phone_follow_ingestion_rules(tmp_path, field, value, valid):
    """Issue 13 item 8: one set of rules (data_platform.ingest.cleaning) for load-csv and ingestion."""
    from data_platform.ingest import cleaning

    path = _write(tmp_path, f"source,identifiant_externe,acteur_type,nom,{field}\n"
                            f'refashion,A1,commerce,Boutique,"{value}"\n')
    df, errors = read_acteur_csv(path, {"refashion"}, {"commerce"})
    assert [(e.line, e.field, e.value) for e in errors] == ([] if valid else [(2, field, value)])
    cleaner = {"code_postal": cleaning.clean_code_postal, "siret": cleaning.clean_siret,
               "siren": cleaning.clean_siren, "telephone": cleaning.clean_telephone}[field]
    assert bool(cleaner(value)) == valid  # ingestion keeps exactly what load-csv accepts
    if valid:
        assert df.loc[2, field] == value  # stored as given
    else:
        assert errors[0].reason == cleaning.VALIDATED_FIELDS[field]


def test_skip_invalid_skips_rows_with_invalid_codes(db, tmp_path, capsys):
    path = _write(tmp_path, "source,identifiant_externe,acteur_type,nom,code_postal,siret\n"
                            "refashion,A1,commerce,Boutique,69001,73282932000074\n"
                            "refashion,A2,commerce,Autre,99999,\n"
                            "refashion,A3,commerce,Encore,69002,73282932000075\n")
    assert main(["load-csv", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 3, field 'code_postal': not a French postal code" in err
    assert "line 4, field 'siret': not a valid SIRET" in err
    assert main(["load-csv", str(path), "--skip-invalid"]) == 0
    assert _rows(db, "select identifiant_unique, code_postal from acteur") == [("refashion_A1", "69001")]


def test_nul_bytes_are_refused_with_line_and_field(db, tmp_path, capsys):
    """Issue 13 item 6: a NUL byte used to reach COPY ("COPY load_acteur, line 5"); the reader refuses it."""
    path = _write(tmp_path, f"{HEADER}\n{GOOD}\nrefashion,A2,commerce,Bou\x00tique,,,,,\nrefashion,A\x003,commerce,X,,,,,\n")
    df, errors = read_acteur_csv(path, {"refashion"}, {"commerce"})
    assert [(e.line, e.field) for e in errors] == [(3, "nom"), (4, "identifiant_externe")]
    assert all("NUL byte" in e.reason for e in errors) and list(df.index) == [2]
    assert main(["load-csv", str(path)]) == 1
    assert "line 3, field 'nom': contains a NUL byte" in capsys.readouterr().err
    assert main(["load-csv", str(path), "--skip-invalid"]) == 0
    assert _rows(db, "select identifiant_unique from acteur") == [("refashion_A1",)]
