"""The one CSV reader of load-csv and dedupe-csv (data_platform.csv_input, issue 13 item 5): encoding said,
separator detected or given, editor line numbers, every bad file a fatal error with its line (never an
exception), and the formula escaping of the CSV files we write (data_platform.csv_output, item 7)."""
from __future__ import annotations

import csv

import pytest

from data_platform.csv_input import CP1252, UTF8, InputError, parse_sep, read_table
from data_platform.csv_output import escape_formula, write_csv
from data_platform.load_csv import KNOWN_COLUMNS, read_acteur_csv

HEADER = ["source", "identifiant_externe", "acteur_type", "nom", "code_postal"]


def _file(tmp_path, data: bytes | str, name="in.csv"):
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _text(sep=",", rows=(("refashion", "A1", "commerce", "Déchèterie", "69001"),)):
    return "\n".join(sep.join(r) for r in [HEADER, *rows]) + "\n"


@pytest.mark.parametrize("data, encoding", [
    (_text().encode("utf-8"), UTF8),
    (b"\xef\xbb\xbf" + _text().encode("utf-8"), UTF8 + " with BOM"),
    (_text().encode("cp1252"), CP1252),
    (_text(rows=[("refashion", "A1", "commerce", "Œuvre – l’atelier", "69001")]).encode("cp1252"), CP1252),
])
def test_encoding_is_detected_and_said(tmp_path, data, encoding):
    table = read_table(_file(tmp_path, data), known_columns=KNOWN_COLUMNS)
    assert not table.errors and table.encoding == encoding
    assert table.rows[0][3] in ("Déchèterie", "Œuvre – l’atelier") and table.header[0] == "source"


def test_mixed_encodings_are_refused_at_the_first_bad_line(tmp_path):
    data = _text(rows=[("refashion", "A1", "commerce", "Déchèterie", "69001")]).encode("utf-8") \
        + "refashion,A2,commerce,Déchèterie,69002\n".encode("latin-1")
    table = read_table(_file(tmp_path, data))
    assert [(e.line, e.fatal) for e in table.errors] == [(3, True)]
    assert "not valid UTF-8 (byte 0xe9)" in table.errors[0].reason and "mixed encodings" in table.errors[0].reason


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_separator_is_detected_on_the_header(tmp_path, sep):
    rows = [("refashion", "A1", "commerce", "Boutique, etc.", "69001"), ("refashion", "A2", "commerce", "X|Y", "")]
    text = _text(sep, [tuple(f'"{v}"' if sep in v else v for v in r) for r in rows])
    table = read_table(_file(tmp_path, text), known_columns=KNOWN_COLUMNS)
    assert not table.errors and table.separator == sep and table.separator_detected
    assert [r[3] for r in table.rows] == ["Boutique, etc.", "X|Y"]
    assert table.describe().startswith("UTF-8, separator ") and table.describe().endswith("(detected)")


def test_separator_given_wins_and_a_wrong_one_is_a_fatal_header_error(tmp_path):
    path = _file(tmp_path, _text(";"))
    assert read_table(path, ";").separator_detected is False
    df, errors = read_acteur_csv(path, {"refashion"}, {"commerce"}, sep=",")
    assert len(df) == 0 and errors[0].fatal and "single column with separator ','" in errors[0].reason
    assert parse_sep("tab") == "\t" and parse_sep(None) is None
    with pytest.raises(InputError, match="--sep ':'"):
        parse_sep(":")


@pytest.mark.parametrize("text, line, reason", [
    ("", 1, "the file is empty"),
    ("\n \n\n", 1, "the file is empty"),
    (_text() + 'refashion,A2,commerce,"Unterminated,69002\nrefashion,A3,commerce,X,69003\n', 3, "never closed"),
    (_text() + '\nrefashion,A2,commerce,"Quoted"tail,69002\n', 4, "text after the closing"),
])
def test_bad_files_are_one_fatal_error_with_the_line(tmp_path, text, line, reason):
    df, errors = read_acteur_csv(_file(tmp_path, text), {"refashion"}, {"commerce"})
    assert len(df) == 0 and [(e.line, e.fatal) for e in errors] == [(line, True)], errors
    assert reason in errors[0].reason


def test_lines_are_the_editor_lines_after_blank_lines_and_quoted_newlines(tmp_path):
    text = ("\n".join([",".join(HEADER), "", "refashion,A1,commerce,\"Deux\nlignes\",69001", "", "",
                       "refashion,A2,commerce,X,ABCDE", "refashion,A3,commerce,Y", "refashion,A4,commerce,Z,69004"])
            + "\n")
    df, errors = read_acteur_csv(_file(tmp_path, text), {"refashion"}, {"commerce"})
    assert [(e.line, e.field) for e in errors] == [(7, "code_postal"), (8, "")]
    assert "4 fields where the header has 5" in errors[1].reason
    assert list(df.index) == [3, 9] and df.loc[3, "nom"] == "Deux\nlignes"


def test_a_quoted_value_running_over_lines_is_pointed_at(tmp_path):
    text = _text() + 'refashion,A2,commerce,"Oops,69002\nrefashion,A3",commerce,X,69003\n'
    _df, errors = read_acteur_csv(_file(tmp_path, text), {"refashion"}, {"commerce"})
    assert [(e.line, e.fatal) for e in errors] == [(3, False)]
    assert "runs over lines 3–4" in errors[0].reason


@pytest.mark.parametrize("value, escaped", [
    ('=HYPERLINK("http://evil.example","clic")', '\'=HYPERLINK("http://evil.example","clic")'),
    ("+33 4 74 00 00 01", "'+33 4 74 00 00 01"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"), ("-", "'-"),
    ("-1.55", "-1.55"), ("+33", "+33"), ("-4,85", "-4,85"), ("-1e-3", "-1e-3"), ("1=1", "1=1"),
    ("Emmaüs", "Emmaüs"), ("", ""), (None, None), (-1.55, -1.55),
])
def test_formula_cells_are_escaped_numbers_are_not(value, escaped):
    assert escape_formula(value) == escaped


def test_write_csv_escapes_every_cell_and_replaces_the_file_whole(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    write_csv(out, ["identifiant_unique", "x"], [["=1+1", "-1.55"], ["a", "@b"]])
    with open(out, newline="") as fh:
        assert list(csv.reader(fh)) == [["identifiant_unique", "x"], ["'=1+1", "-1.55"], ["a", "'@b"]]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_padded_fields_are_found_by_every_mark():
    from data_platform.csv_input import _has_padded_field, _padding_marks

    for sep in (",", ";", "\t"):
        assert not _has_padded_field(f"a{sep}b\nc{sep}d\n", sep)
        for mark in _padding_marks(sep):
            assert _has_padded_field(f"a{sep}b\nc{mark}d\n", sep), (sep, mark)
        assert _has_padded_field(f" a{sep}b\n", sep) and _has_padded_field(f"a{sep}b ", sep)
