"""The national channel through the whole pipeline (dbt selection → partitions → national stage →
suggestions) on a real PostgreSQL: records of one place whose postal codes are blank or typo'd end in
one suggestion; a chain's two shops do not; the run parameter switches the channel off."""
from __future__ import annotations

from data_platform import pipeline
from tests.dbt.helpers import insert_acteurs


def _place(uid, source, code_postal, lat="48.86000", lon="2.38000", **extra):
    return {"identifiant_unique": uid, "source": source, "nom": "Ressourcerie La Fabrique",
            "adresse": "12 rue Victor Hugo", "code_postal": code_postal, "ville": "Paris",
            "latitude": lat, "longitude": lon, "statut": "ACTIF", **extra}


def _fillers():
    rows = []
    for k in range(30):
        city, cp = [("Paris", "75011"), ("Marseille", "13001"), ("Lyon", "69003")][k % 3]
        rows.append({"identifiant_unique": f"refashion_f{k:02d}", "source": "refashion",
                     "nom": f"{['Garage', 'Cordonnerie', 'Pharmacie', 'Librairie', 'Fleuriste'][k % 5]} {k}",
                     "adresse": f"{k + 1} rue {['Pasteur', 'Foch', 'Carnot'][k % 3]}", "code_postal": cp,
                     "ville": city, "latitude": str(43.0 + k * 0.1), "longitude": str(2.0 + k * 0.1),
                     "statut": "ACTIF"})
    return rows


def _rows():
    return _fillers() + [
        _place("ecosystem_b", "ecosystem", ""),                                   # blank → inconnu
        _place("corepile_c", "corepile", "13011", lat="48.86003", lon="2.38004"),  # typo → 13
        {"identifiant_unique": "refashion_n1", "source": "refashion", "nom": "Norauto", "adresse": "5 avenue Foch",
         "code_postal": "69003", "ville": "Lyon", "siret": "55555555500011", "siren": "555555555",
         "telephone": "0800123456", "latitude": "45.76", "longitude": "4.85", "statut": "ACTIF"},
        {"identifiant_unique": "ecosystem_n2", "source": "ecosystem", "nom": "Norauto", "adresse": "8 rue Pasteur",
         "code_postal": "59000", "ville": "Lille", "siret": "55555555500029", "siren": "555555555",
         "telephone": "0800123456", "latitude": "50.63", "longitude": "3.06", "statut": "ACTIF"},
    ]


def _suggestions(conn, run_id):
    with conn.cursor() as cur:
        cur.execute("select s.membres, s.departement from suggestion s join suggestion_cohorte c on c.id = s.cohorte_id "
                    "where c.run_id = %s order by s.cluster_id", (run_id,))
        return [(sorted(m), d) for m, d in cur.fetchall()]


def test_blank_and_typo_end_in_one_suggestion_and_chain_does_not(db):
    insert_acteurs(db, _rows())
    summary = pipeline.run_all("nat_on")
    assert summary["national"]["clusters_across"] == 1
    found = _suggestions(db, "nat_on")
    assert len(found) == 1
    members, departement = found[0]
    assert [m for m in members if not m.startswith("parent")] == ["corepile_c", "ecosystem_b"]
    assert departement == "13"  # the only real département of the cluster
    with db.cursor() as cur:
        cur.execute("select count(*) from cluster_pair where run_id = 'nat_on'")
        assert cur.fetchone()[0] == 1
    # the same data twice: the same cluster ids
    with db.cursor() as cur:
        cur.execute("select cluster_id, identifiant_unique from cluster_membership where run_id = 'nat_on' order by 1, 2")
        first = cur.fetchall()
    pipeline.run_all("nat_again")
    with db.cursor() as cur:
        cur.execute("select cluster_id, identifiant_unique from cluster_membership where run_id = 'nat_again' order by 1, 2")
        assert cur.fetchall() == first


def test_the_channel_off_finds_nothing_across_partitions(db):
    insert_acteurs(db, _rows())
    summary = pipeline.run_all("nat_off", {"national": False})
    assert summary["national"] == {"skipped": True}
    assert _suggestions(db, "nat_off") == []


def test_report_counts_pairs_across_partitions(db):
    from data_platform.report.national import gather_national
    from data_platform.report.run_report import default_path

    insert_acteurs(db, _rows())
    pipeline.run_all("nat_report")
    assert gather_national(db, "nat_report") == {"clusters": 1, "actors": 2, "pairs": 1, "pairs_inconnu": 1}
    page = default_path("nat_report").read_text(encoding="utf-8")
    assert "Doublons entre partitions" in page and "paires entre deux partitions : <b>1</b>" in page


def test_the_dag_task_runs_the_national_stage_in_its_own_process(db, tmp_path):
    """The DAG's task (pipeline.cluster_national) keeps the LSH candidates in its process: a forkserver
    worker re-imports the task process's __main__ — in Airflow the `airflow` script, whose import fails in
    a task (no metadata database URL there) — and the stage failed with BrokenProcessPool from 50,000
    actors. Here the __main__ refuses to be re-imported, and the LSH threshold is 0."""
    import os
    import subprocess
    import sys

    insert_acteurs(db, _rows())
    pipeline.run_all("nat_task", until="clusters")  # the partitions' clusters (the national stage too)
    script = tmp_path / "task.py"
    script.write_text(
        "import sys\n"
        "if __name__ != '__main__':\n"
        "    raise RuntimeError('re-imported by a worker process, as the airflow script is in a task')\n"
        "from data_platform import pipeline\n"
        "from data_platform.cluster import national\n"
        "national.LSH_PROCESS_MIN_ROWS = 0\n"
        "print(pipeline.cluster_national('nat_task')['cross_candidates'])\n")
    env = {**os.environ, "DP_CLUSTER_WORKERS": "2"}
    done = subprocess.run([sys.executable, str(script)], check=False, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 0
