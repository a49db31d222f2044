"""Parameters of a clustering run: defaults, descriptions (the Airflow form shows them) and validation.

Every parameter is validated here, before anything runs; an invalid one raises ParamError naming it.
The validated dict is stored in `cluster_run.params` and read by dbt as data (never templated into SQL).
"""
from __future__ import annotations

import copy
import re

from data_platform.reference import ACTEUR_TYPES, SOURCES

SOURCE_CODES = [code for code, _, _ in SOURCES]
ACTEUR_TYPE_CODES = [code for code, _ in ACTEUR_TYPES]
RAW_FIELDS = ["nom", "nom_commercial", "siren", "siret", "adresse", "adresse_complement", "code_postal",
              "ville", "telephone", "email", "url", "latitude", "longitude"]
EXACT_FIELDS = ["nom_norm", "adresse_norm", "ville_norm", "code_postal_norm", "siret_norm", "siren_norm",
                "telephone_norm", "departement"]
FUZZY_FIELDS = ["nom", "adresse", "ville", "code_postal", "siret", "telephone", "distance"]
DEPARTEMENT_RE = re.compile(r"^(0[1-9]|1[0-9]|2[1-9]|[3-8][0-9]|9[0-5]|2A|2B|97[1-6]|inconnu)$")

DEFAULT_PARAMS: dict = {
    "sources": [],
    "sources_apply_to_parents": True,
    "acteur_types": [],
    "acteur_types_apply_to_parents": True,
    "departements": [],
    "departements_apply_to_parents": True,
    "nom_regex": "",
    "nom_regex_apply_to_parents": False,
    "required_fields": [],
    "required_fields_apply_to_parents": False,
    "normalize_drop_short_words": 0,
    "normalize_sort_words": False,
    "exact_match_fields": [],
    # tuned with `evaluate`'s threshold table on generated populations (best F1 at 50k and 500k)
    "fuzzy_fields": {"nom": 0.35, "adresse": 0.25, "ville": 0.05, "code_postal": 0.05, "siret": 0.1,
                     "telephone": 0.05, "distance": 0.15},
    "threshold": 0.75,
    "allow_same_source": False,
    "max_distance_m": 0,
    "parent_source_priority": ["sinoe", "refashion", "ecosystem", "ecomaison", "corepile", "batribox",
                               "aliapur", "cma", "cyclevia", "ecodds", "cyclamed", "communaute"],
    "parent_excluded_sources": [],
    "keep_parent_data": True,
    "dry_run": False,
}

DESCRIPTIONS: dict[str, str] = {
    "sources": "Sources to cluster (empty = all).",
    "sources_apply_to_parents": "Also filter parents by source (a parent passes if one of its children's sources is listed).",
    "acteur_types": "Actor types to cluster (empty = all).",
    "acteur_types_apply_to_parents": "Also filter parents by actor type.",
    "departements": "Départements to cluster, e.g. 01, 2A, 971 (empty = all, plus 'inconnu' for unusable postal codes).",
    "departements_apply_to_parents": "Also filter parents by département.",
    "nom_regex": "Keep actors whose NORMALIZED name matches this regex (case-insensitive; empty = no filter).",
    "nom_regex_apply_to_parents": "Also filter parents by the name regex.",
    "required_fields": "Fields that must be filled (e.g. siret, adresse).",
    "required_fields_apply_to_parents": "Also require these fields on parents.",
    "normalize_drop_short_words": "Drop words shorter than N characters from names and addresses (0 = off).",
    "normalize_sort_words": "Sort the unique words of normalized names (word order stops mattering).",
    "exact_match_fields": "Normalized fields that must be equal and non-empty for two actors to match.",
    "fuzzy_fields": "Weights of the fuzzy fields in the match score (re-normalized over fields both actors have).",
    "threshold": "Match score in [0, 1] above which two actors are the same place.",
    "allow_same_source": "Allow two actors of one source in one cluster.",
    "max_distance_m": "Two actors farther apart than this never match, in metres (0 = off).",
    "parent_source_priority": "Sources in order of trust when choosing the parent's data.",
    "parent_excluded_sources": "Sources whose data is never copied to the parent.",
    "keep_parent_data": "An existing parent's own values win over its members'.",
    "dry_run": "Compute and report, write no suggestion.",
}


class ParamError(ValueError):
    """An invalid run parameter; the message names it."""

    def __init__(self, name: str, message: str):
        super().__init__(f"parameter '{name}': {message}")
        self.name = name


def _list_of(name, value, allowed=None, pattern=None) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ParamError(name, f"expected a list of strings, got {value!r}")
    for v in value:
        if allowed is not None and v not in allowed:
            raise ParamError(name, f"unknown value {v!r}; allowed: {', '.join(allowed)}")
        if pattern is not None and not pattern.match(v):
            raise ParamError(name, f"invalid value {v!r}")
    return sorted(set(value), key=value.index)


def _bool(name, value) -> bool:
    if isinstance(value, bool):
        return value
    raise ParamError(name, f"expected true or false, got {value!r}")


def _number(name, value, lo, hi, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(name, f"expected a number, got {value!r}")
    if integer and int(value) != value:
        raise ParamError(name, f"expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ParamError(name, f"{value!r} is outside [{lo}, {hi}]")
    return int(value) if integer else float(value)


def validate_params(raw: dict | None) -> dict:
    """Defaults filled in, every value checked; raises ParamError naming the first bad parameter."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(DEFAULT_PARAMS))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter; known: {', '.join(DEFAULT_PARAMS)}")
    p = copy.deepcopy(DEFAULT_PARAMS)
    p.update(raw)
    out: dict = {}
    out["sources"] = _list_of("sources", p["sources"], SOURCE_CODES)
    out["acteur_types"] = _list_of("acteur_types", p["acteur_types"], ACTEUR_TYPE_CODES)
    out["departements"] = _list_of("departements", p["departements"], pattern=DEPARTEMENT_RE)
    regex = p["nom_regex"] or ""
    if not isinstance(regex, str) or len(regex) > 500:
        raise ParamError("nom_regex", "expected a string of at most 500 characters")
    try:
        re.compile(regex)
    except re.error as err:
        raise ParamError("nom_regex", f"invalid regular expression: {err}") from err
    out["nom_regex"] = regex
    out["required_fields"] = _list_of("required_fields", p["required_fields"], RAW_FIELDS)
    for name in ["sources", "acteur_types", "departements", "nom_regex", "required_fields"]:
        key = f"{name}_apply_to_parents"
        out[key] = _bool(key, p[key])
    out["normalize_drop_short_words"] = _number("normalize_drop_short_words", p["normalize_drop_short_words"],
                                                0, 10, integer=True)
    out["normalize_sort_words"] = _bool("normalize_sort_words", p["normalize_sort_words"])
    out["exact_match_fields"] = _list_of("exact_match_fields", p["exact_match_fields"], EXACT_FIELDS)
    weights = p["fuzzy_fields"]
    if not isinstance(weights, dict) or not weights:
        raise ParamError("fuzzy_fields", "expected a non-empty mapping of field → weight")
    clean_weights = {}
    for field, weight in weights.items():
        if field not in FUZZY_FIELDS:
            raise ParamError("fuzzy_fields", f"unknown field {field!r}; allowed: {', '.join(FUZZY_FIELDS)}")
        clean_weights[field] = _number(f"fuzzy_fields.{field}", weight, 0, 100)
    if sum(clean_weights.values()) <= 0:
        raise ParamError("fuzzy_fields", "weights must not all be zero")
    if clean_weights.get("nom", 0) <= 0:
        raise ParamError("fuzzy_fields", "the name ('nom') must have a positive weight")
    out["fuzzy_fields"] = {f: clean_weights[f] for f in FUZZY_FIELDS if f in clean_weights}
    out["threshold"] = _number("threshold", p["threshold"], 0, 1)
    out["allow_same_source"] = _bool("allow_same_source", p["allow_same_source"])
    out["max_distance_m"] = _number("max_distance_m", p["max_distance_m"], 0, 1_000_000)
    out["parent_source_priority"] = _list_of("parent_source_priority", p["parent_source_priority"], SOURCE_CODES)
    out["parent_excluded_sources"] = _list_of("parent_excluded_sources", p["parent_excluded_sources"],
                                              SOURCE_CODES)
    out["keep_parent_data"] = _bool("keep_parent_data", p["keep_parent_data"])
    out["dry_run"] = _bool("dry_run", p["dry_run"])
    return out


RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.:+-]{1,250}$")


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ParamError("run_id", f"invalid run id {run_id!r} (letters, digits and _.:+- only)")
    return run_id
