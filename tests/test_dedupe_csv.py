"""dedupe-csv: a CSV in, every row out with its cluster id, through the DAG's normalization and clustering."""
import csv

from data_platform.cli import main

HEADER = ["source", "identifiant_externe", "acteur_type", "nom", "adresse", "code_postal", "ville",
          "siret", "telephone", "latitude", "longitude", "note"]
ROWS = [
    ["refashion", "R1", "commerce", "Emmaüs Connect", "12 av. Jean Jaurès", "1000", "Bourg-en-Bresse",
     "", "0474000001", "46.2052", "5.2255", "x"],
    ["ecosystem", "E 1", "commerce", "EMMAUS CONNECT SARL", "12 avenue Jean Jaures", "01000", "BOURG EN BRESSE",
     "", "+33 4 74 00 00 01", "46.2053", "5.2256", "y"],
    ["refashion", "R2", "commerce", "Boulangerie Martin", "3 rue de la Paix", "75002", "Paris",
     "", "", "", "", ""],
    ["ecomaison", "M/9", "commerce", "Garage du Port", "1 quai Vauban", "20200", "Bastia",
     "", "", "", "", ""],
]


def test_dedupe_csv_writes_every_row_with_its_cluster(tmp_path, database_url):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    out = tmp_path / "out.csv"
    assert main(["dedupe-csv", str(src), "--out", str(out)]) == 0
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["identifiant_unique"] for r in rows] == ["refashion_R1", "ecosystem_E1", "refashion_R2", "ecomaison_M-9"]
    cluster = {r["identifiant_unique"]: r["cluster_id"] for r in rows}
    assert cluster["refashion_R1"] and cluster["refashion_R1"] == cluster["ecosystem_E1"]
    assert cluster["refashion_R1"].startswith("01_")  # partition = département from the repaired postal code
    assert cluster["refashion_R2"] == "" and cluster["ecomaison_M-9"] == ""


def _write(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _clusters(path) -> dict:
    with open(path) as fh:
        return {r["identifiant_unique"]: r["cluster_id"] for r in csv.DictReader(fh)}


def test_single_source_file_dedupes_and_an_empty_name_is_missing_information(tmp_path, database_url, capsys):
    """One `source` for every row: the intra-source rule is off by default (it would forbid every pair);
    a row with an empty name is clustered or not like the others, the file is not refused."""
    rows = [["refashion", *r[1:]] for r in ROWS]
    rows.append(["refashion", "R9", "commerce", "", "3 rue de la Paix", "75002", "Paris", "", "", "", "", ""])
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, HEADER, rows)
    assert main(["dedupe-csv", str(src), "--out", str(out)]) == 0
    assert '"allow_same_source": true' in capsys.readouterr().out
    cluster = _clusters(out)
    assert list(cluster) == ["refashion_R1", "refashion_E1", "refashion_R2", "refashion_M-9", "refashion_R9"]
    assert cluster["refashion_R1"] and cluster["refashion_R1"] == cluster["refashion_E1"]
    assert cluster["refashion_M-9"] == ""
    # --no-allow-same-source: the intra-source rule again
    assert main(["dedupe-csv", str(src), "--out", str(out), "--no-allow-same-source"]) == 0
    assert set(_clusters(out).values()) == {""}


def test_file_without_source_column_is_one_source(tmp_path, database_url):
    header = [h for h in HEADER if h != "source"]
    rows = [[v for h, v in zip(HEADER, r) if h != "source"] for r in ROWS]
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, header, rows)
    assert main(["dedupe-csv", str(src), "--out", str(out)]) == 0
    cluster = _clusters(out)
    assert cluster["csv_R1"] and cluster["csv_R1"] == cluster["csv_E1"]


def test_dedupe_csv_prints_a_line_per_stage_and_one_per_dbt_call_without_ansi_codes(tmp_path, database_url, capfd):
    """Without --verbose: no dbt log, one summary line per dbt call, a line per stage and per batch; stderr is
    not a terminal here, so no ANSI code at all."""
    import re

    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(src, HEADER, ROWS)
    assert main(["dedupe-csv", str(src), "--out", str(out)]) == 0
    err = capfd.readouterr().err
    assert "\x1b[" not in err and "Running with dbt" not in err
    # one dbt call: dedupe-csv stops at the final clusters (no parents, changes nor suggestions)
    assert len(re.findall(r"^dbt build: \d+ models, .*passed in [\d.]+ s$", err, re.M)) == 1, err
    for line in ("scratch database (", "read and load the CSV: 4 rows (", "selection: 4 actors in ",
                 "clustering: 1/1 — 4 actors", "clustering: 1 batch (", "national: pairs across partitions ("):
        assert line in err, err
    assert "parents and changes" not in err and "suggestions (" not in err, err


def test_the_stages_child_starts_before_the_read_and_ends_when_the_input_is_refused(tmp_path, database_url,
                                                                                    monkeypatch, capsys):
    """dedupe-csv starts its stages' child before reading the CSV (its imports overlap the read); a file it
    refuses ends that child, which ran nothing."""
    from data_platform import dedupe_csv

    started = []
    real = dedupe_csv.StagesChild

    class Recorded(real):
        def __init__(self, verbose=False):
            super().__init__(verbose)
            started.append(self)

    monkeypatch.setattr(dedupe_csv, "StagesChild", Recorded)
    bad = tmp_path / "bad.csv"
    _write(bad, ["source", "identifiant_externe", "acteur_type", "nom", "code_postal"],
           [["refashion", "R1", "commerce", "Nom", "ABCDE"]])
    assert main(["dedupe-csv", str(bad), "--out", str(tmp_path / "out.csv")]) == 1
    assert "code_postal" in capsys.readouterr().err
    assert len(started) == 1 and started[0].proc.returncode == 0  # ended, nothing run
    good = tmp_path / "in.csv"
    _write(good, HEADER, ROWS)
    assert main(["dedupe-csv", str(good), "--out", str(tmp_path / "out.csv")]) == 0
    assert len(started) == 2 and started[1].proc.returncode == 0
    assert _clusters(tmp_path / "out.csv")["ecosystem_E1"] != ""
