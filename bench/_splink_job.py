"""Splink 4 (DuckDB) on one generated CSV: run by bench/side_by_side.py with the Splink virtual
environment's Python (.local/splink-venv), never imported by the platform.

    .local/splink-venv/bin/python bench/_splink_job.py IN.csv OUT.csv [--threshold 0.75] [--sweep 0.9,0.99]

A configuration comparable to dedupe-csv's default: the ACTIF rows, names/addresses/cities lower-cased
without accents or punctuation, the house number (leading digits of the address) compared on its own,
a Fellegi–Sunter model fitted by EM (λ from deterministic rules, u by random sampling, m by EM on two blocking rules), blocking on the same kinds of keys (name prefix within
a postal code, SIRET, phone, address within a postal code, ~100 m grid cell), one match-probability
threshold for the pairs and the clusters. Writes identifiant_unique,cluster_id like dedupe-csv.
--sweep: also the clusters at these thresholds (predictions made once, at the lowest), in OUT with
`.t<threshold>` before the extension: side_by_side.py picks Splink's best threshold on the truth, as
the issue's measurement did (an advantage given to Splink, said in the output).
"""
from __future__ import annotations

import argparse
import time

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def _norm(s: pd.Series) -> pd.Series:
    return (s.fillna("").astype(str).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
            .str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip())


def prepare(path: str) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "statut" in raw.columns:
        raw = raw[raw["statut"].isin(["", "ACTIF"])]
    df = pd.DataFrame({"unique_id": raw["identifiant_unique"]})
    for col in ("nom", "adresse", "ville"):
        df[col] = _norm(raw[col]).replace("", None)
    # the house number, the strongest evidence that two shops of one chain in one city are two places
    df["numero"] = df["adresse"].str.extract(r"^(\d+)", expand=False)
    df["code_postal"] = raw["code_postal"].str.replace(r"\D", "", regex=True).str.zfill(5).replace("00000", None)
    df["siret"] = raw["siret"].str.replace(r"\D", "", regex=True).replace("", None)
    df["telephone"] = raw["telephone"].str.replace(r"\D", "", regex=True).str[-9:].replace("", None)
    for col in ("latitude", "longitude"):
        df[col] = pd.to_numeric(raw[col], errors="coerce")
    df["cell"] = ((df["latitude"] * 1000).round().astype("Int64").astype(str) + ":"
                  + (df["longitude"] * 700).round().astype("Int64").astype(str)).where(df["latitude"].notna(), None)
    return df.reset_index(drop=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--threshold", type=float, default=0.75)
    ap.add_argument("--sweep", default="", help="more thresholds, comma-separated")
    args = ap.parse_args()
    sweep = sorted({float(t) for t in args.sweep.split(",") if t.strip()} - {args.threshold})
    t0 = time.perf_counter()
    df = prepare(args.input)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("nom").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("adresse", [0.95, 0.85]),
            cl.ExactMatch("numero"),
            cl.ExactMatch("code_postal"),
            cl.JaroWinklerAtThresholds("ville", [0.9]),
            cl.ExactMatch("siret"),
            cl.ExactMatch("telephone"),
            cl.DistanceInKMAtThresholds("latitude", "longitude", [0.03, 0.1, 0.3, 1, 5]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("code_postal", "substr(nom, 1, 4)"),
            block_on("siret"),
            block_on("telephone"),
            block_on("code_postal", "adresse"),
            block_on("cell"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(df, settings, db_api=DuckDBAPI(), set_up_basic_logging=False)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("nom", "code_postal"), block_on("siret"), block_on("telephone")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    # EM sessions on narrow rules (a postal code alone pairs thousands of actors in a city: millions of pairs)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("code_postal", "substr(nom, 1, 2)"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("nom", "substr(code_postal, 1, 2)"))
    pred = linker.inference.predict(threshold_match_probability=min([args.threshold, *sweep]))
    for threshold in [args.threshold, *sweep]:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, threshold_match_probability=threshold).as_pandas_dataframe()
        sizes = clusters.groupby("cluster_id")["unique_id"].transform("size")
        clusters = clusters[sizes >= 2]
        out = pd.DataFrame({"identifiant_unique": df["unique_id"]})
        out["cluster_id"] = out["identifiant_unique"].map(dict(zip(clusters["unique_id"],
                                                                   clusters["cluster_id"].astype(str))))
        path = args.output if threshold == args.threshold else sweep_path(args.output, threshold)
        out.fillna("").to_csv(path, index=False)
        print(f"splink: {len(df)} rows, {clusters['cluster_id'].nunique()} clusters at {threshold:g} "
              f"({time.perf_counter() - t0:.1f} s)")
    return 0


def sweep_path(output: str, threshold: float) -> str:
    stem, dot, ext = output.rpartition(".")
    return f"{stem}.t{threshold:g}{dot}{ext}" if dot else f"{output}.t{threshold:g}"


if __name__ == "__main__":
    raise SystemExit(main())
