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
