"""Active learning: pair selection, retraining, the oracle labeller, `label --model-out` then
`dedupe-csv --model`."""
import csv

import numpy as np
import pandas as pd
import pytest

from data_platform.cli import main
from data_platform.cluster.model import model_from_json
from data_platform.cluster.normalize import normalize_frame
from data_platform.labels.active import ActiveLearner, Pool, _patterns, run_oracle
from data_platform.labels.console import interactive

STREETS = ["rue des lilas", "avenue foch", "rue de la gare", "boulevard victor hugo", "rue pasteur",
           "place de l'eglise", "rue du moulin", "chemin des vignes"]
TRADES = ["garage", "boulangerie", "pharmacie", "ressourcerie", "atelier", "cordonnerie", "librairie",
          "fleuriste", "brocante", "epicerie"]
FAMILY = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
          "simon", "laurent", "lefebvre", "michel", "garcia", "david"]


def crafted_rows(n: int = 300) -> list[dict]:
    """Businesses of Lyon; every other one has a duplicate in a second source that MOVED (another
    address 1.4 km away) and carries the city in its name, keeping its phone. Nothing in the
    candidates agrees on the place for these duplicates, so the zero-label model (EM: duplicates
    agree on the place) misses them all; labels teach that the same phone and nearly the same name
    are one business here."""
    rng = np.random.default_rng(3)
    rows = []
    for e in range(n):
        name = f"{TRADES[e % 10]} {FAMILY[(e // 10) % 16]} {e}"
        lat, lon = 45.75 + rng.uniform(-0.05, 0.05), 4.85 + rng.uniform(-0.05, 0.05)
        common = {"acteur_type": "commerce", "code_postal": f"{69001 + e % 9}", "ville": "Lyon",
                      "telephone": f"0472{e:06d}", "entity_id": f"e{e}"}
        rows.append(dict(identifiant_unique=f"a{e}", source="s1", nom=name, adresse=f"{e % 90 + 1} {STREETS[e % 8]}",
                         latitude=f"{lat:.6f}", longitude=f"{lon:.6f}", **common))
        if e % 2 == 0:
            rows.append(dict(identifiant_unique=f"b{e}", source="s2", nom=f"{name} lyon",
                             adresse=f"{(e * 7) % 90 + 1} {STREETS[(e + 3) % 8]}",
                             latitude=f"{lat + 0.01:.6f}", longitude=f"{lon + 0.01:.6f}", **common))
    return rows


def crafted_frame() -> tuple[pd.DataFrame, pd.Series]:
    df = pd.DataFrame(crafted_rows())
    df["est_parent"] = False
    for c in ("latitude", "longitude"):
        df[c] = df[c].astype(float)
    df = normalize_frame(df)
    return df, pd.Series(df["entity_id"].to_numpy(), index=df["identifiant_unique"].to_numpy())


@pytest.fixture(scope="module")
def pool():
    return Pool.from_frame(crafted_frame()[0])


def test_oracle_labeller_improves_recall_where_the_zero_label_model_misses(pool):
    _, truth = crafted_frame()
    learner = ActiveLearner(pool, threshold=0.75)
    curve = run_oracle(learner, truth, 30)
    assert curve[0]["labels"] == 0 and curve[0]["recall"] < 0.1  # the zero-label model misses them
    assert curve[-1]["labels"] == 30
    assert curve[-1]["recall"] >= 0.95 and curve[-1]["precision"] >= 0.95
    assert [q["labels"] for q in curve] == [0, 5, 10, 15, 20, 25, 30]  # retrained every 5 labels


def test_selection_is_deterministic_uncertain_and_diverse(pool):
    def questions(n):
        learner = ActiveLearner(pool)
        asked = []
        for _ in range(n):
            k = learner.next_pair()
            asked.append(k)
            learner.answer(k, None)  # je ne sais pas: asked once, never a label
        return learner, asked

    learner, first = questions(10)
    assert questions(10)[1] == first
    assert len(set(first)) == 10 and not learner.labels and learner.skipped == set(first)
    # never ten near-identical pairs: the first questions have distinct comparison patterns
    patterns = _patterns(pool.compared.levels)
    assert len(set(patterns[first])) == 10
    # the first question is the most uncertain pair
    p = ActiveLearner(pool).probabilities
    assert abs(p[first[0]] - 0.5) == pytest.approx(np.abs(p - 0.5).min())


def test_logistic_once_both_classes_have_labels_else_em_seeded(pool):
    _, truth = crafted_frame()
    is_match = pool.truth_labels(truth)
    # at the label command's threshold EM misses these matches (p 0.70 < 0.75): the labels must help
    learner = ActiveLearner(pool, threshold=0.75, retrain_every=5, min_per_class=3)
    positives = np.flatnonzero(is_match)[:5]
    assert (learner.probabilities[positives] < 0.75).all()
    for k in positives:
        learner.answer(int(k), True)
    assert learner.model.kind == "fellegi_sunter" and learner.model.info["seeded_by_labels"]
    for k in np.flatnonzero(~is_match)[:5]:
        learner.answer(int(k), False)
    assert learner.model.kind == "logistic" and learner.model.info["labels"] == 10
    # the saved model gives the same probabilities after a JSON round trip
    again = model_from_json(learner.model.to_json())
    assert np.allclose(again.predict(pool.compared, pool.partition_size)[0], learner.probabilities)


def test_console_labeller_reads_o_n_i_f(pool, capsys):
    learner = ActiveLearner(pool, retrain_every=2)
    replies = iter(["x", "o", "n", "i", "f"])
    interactive(learner, read=lambda prompt: next(replies))
    out = capsys.readouterr().out
    assert sorted(learner.labels.values()) == [False, True] and len(learner.skipped) == 1
    assert "répondre o, n, i ou f" in out and "nom " in out and "modèle réentraîné" in out


def write_csv(path, rows, columns=None):
    columns = columns or list(rows[0])
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def read_clusters(path) -> dict:
    with open(path) as fh:
        return {r["identifiant_unique"]: r["cluster_id"] for r in csv.DictReader(fh)}


def test_label_model_out_is_used_by_dedupe_csv_model(tmp_path, database_url, capsys):
    src, model = tmp_path / "in.csv", tmp_path / "m.json"
    write_csv(src, crafted_rows(120))
    assert main(["label", str(src), "--oracle-column", "entity_id", "--budget", "20",
                 "--model-out", str(model)]) == 0
    assert "étiquettes" in capsys.readouterr().out
    model_from_json(__import__("json").loads(model.read_text()))  # a saved model
    outs = []
    for name in ("a.csv", "b.csv", "rules.csv"):
        args = ["dedupe-csv", str(src), "--out", str(tmp_path / name)] + (["--model", str(model)] if name != "rules.csv" else [])
        assert main(args) == 0
        outs.append(read_clusters(tmp_path / name))
    assert outs[0] == outs[1]  # the same clusters twice
    with_model, rules = outs[0], outs[2]
    duplicates = [e for e in range(120) if e % 2 == 0]
    found = sum(1 for e in duplicates if with_model[f"a{e}"] and with_model[f"a{e}"] == with_model[f"b{e}"])
    assert found >= 0.9 * len(duplicates)
    assert sum(1 for e in duplicates if rules[f"a{e}"] and rules[f"a{e}"] == rules[f"b{e}"]) < found
