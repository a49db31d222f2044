"""Parameters of a clustering run, in one table: the fields of `RunParams`.

Each field carries its spec (kind, section, French title, description, choices with labels, bounds);
from that one table come the defaults (`DEFAULT_PARAMS`), the validation (`RunParams.from_raw`), the
Airflow trigger form (`airflow_params()`) and the parameter table of docs/CONTRACTS.md
(`contracts_markdown()`; `python -m data_platform.cluster.params` rewrites that section).

A run's parameters are validated once, in `pipeline.start_run` (which also checks the name regex
with PostgreSQL, the dialect dbt runs it in), stored as JSON in `cluster_run.params` (`to_dict()`;
dbt reads it with jsonb operators, values are data, never SQL text), and read back with
`RunParams.load(conn, run_id)`. Code below the pipeline receives explicit arguments.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from data_platform.reference import ACTEUR_TYPES, PARENT_SOURCE_PRIORITY, SOURCES
from data_platform.settings import DBT_PROJECT_DIR

SOURCE_LABELS = {code: label for code, label, _ in SOURCES}
SOURCE_CODES = list(SOURCE_LABELS)
ACTEUR_TYPE_LABELS = dict(ACTEUR_TYPES)
ACTEUR_TYPE_CODES = list(ACTEUR_TYPE_LABELS)
RAW_FIELD_LABELS = {
    "nom": "Nom", "nom_commercial": "Nom commercial", "siren": "SIREN", "siret": "SIRET", "adresse": "Adresse",
    "adresse_complement": "Complément d'adresse", "code_postal": "Code postal", "ville": "Ville",
    "telephone": "Téléphone", "email": "E-mail", "url": "Site web", "latitude": "Latitude", "longitude": "Longitude",
}
RAW_FIELDS = list(RAW_FIELD_LABELS)
EXACT_FIELD_LABELS = {
    "nom_norm": "Nom normalisé", "adresse_norm": "Adresse normalisée", "ville_norm": "Ville normalisée",
    "code_postal_norm": "Code postal normalisé", "siret_norm": "SIRET", "siren_norm": "SIREN",
    "telephone_norm": "Téléphone normalisé", "departement": "Département",
}
EXACT_FIELDS = list(EXACT_FIELD_LABELS)
FUZZY_FIELDS = ["nom", "adresse", "ville", "code_postal", "siret", "telephone", "distance"]
UNKNOWN_DEPARTEMENT = "inconnu"


def _departement_labels() -> dict[str, str]:
    """Codes → names of the dbt seed, plus Saint-Pierre-et-Miquelon (975, not in the seed) and
    'inconnu', the partition of actors without a usable postal code."""
    with open(DBT_PROJECT_DIR / "seeds" / "departements.csv", newline="", encoding="utf-8") as f:
        labels = {row["code"]: f"{row['code']} {row['nom']}" for row in csv.DictReader(f)}
    labels["975"] = "975 Saint-Pierre-et-Miquelon"
    labels[UNKNOWN_DEPARTEMENT] = "inconnu (code postal inutilisable)"
    return dict(sorted(labels.items(), key=lambda kv: (kv[0] == UNKNOWN_DEPARTEMENT, kv[0])))


DEPARTEMENT_LABELS = _departement_labels()
SECTIONS = ["Sélection", "Normalisation", "Rapprochement", "Parents", "Exécution"]
DEFAULT_FUZZY_FIELDS = {"nom": 0.35, "adresse": 0.25, "ville": 0.05, "code_postal": 0.05, "siret": 0.1,
                        "telephone": 0.05, "distance": 0.15}
DEFAULT_PARENT_PRIORITY = PARENT_SOURCE_PRIORITY
REGEX_MAX_LENGTH = 500
# the scorer of a run (data_platform.cluster.model_store resolves it), or a match_model id
MODEL_CHOICES = {"latest": "le dernier modèle enregistré", "em": "appris par EM sur ce run",
                 "rules": "l'ancien score pondéré"}
DEFAULT_MODEL = "latest"  # the learned Fellegi–Sunter model (issue 8); "rules" = the former weighted score
DEFAULT_THRESHOLD = 0.75


class ParamError(ValueError):
    """An invalid run parameter; the message names it."""

    def __init__(self, name: str, message: str):
        super().__init__(f"parameter '{name}': {message}")
        self.name = name


@dataclass(frozen=True)
class Spec:
    """How one parameter is validated, shown in the form and documented.

    kind: "codes" (a set of codes from `choices`, a multi-select), "ordered" (an ordered list of codes),
    "bool", "int", "number", "regex", "weights" (field → weight, fields from `choices`), "model" (one
    of `choices` or the id of a saved match_model).
    """
    kind: str
    section: str
    title: str
    description: str
    choices: Mapping[str, str] | None = None  # code → French label
    minimum: float | None = None
    maximum: float | None = None


class Weights(dict):
    """Field → weight, read-only (hashable, picklable: batches go to worker processes)."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("run parameters are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only

    def __hash__(self):
        return hash(tuple(self.items()))

    def __reduce__(self):
        return (Weights, (dict(self),))


def _param(default, kind: str, section: str, title: str, description: str, **spec):
    meta = {"spec": Spec(kind, section, title, description, **spec)}
    if isinstance(default, dict):
        return field(default_factory=lambda: Weights(default), metadata=meta)
    return field(default=default, metadata=meta)


def _apply_to_parents(default: bool, what: str):
    return _param(default, "bool", "Sélection", f"Appliquer aussi aux parents : {what}",
                  f"Filtrer aussi les parents sur ce critère ({what}).")


@dataclass(frozen=True)
class RunParams:
    """The parameters of one clustering run (validated; immutable). Order of fields = order of the form."""
    sources: tuple[str, ...] = _param(
        (), "codes", "Sélection", "Sources", "Sources à regrouper (vide = toutes).", choices=SOURCE_LABELS)
    sources_apply_to_parents: bool = _param(
        True, "bool", "Sélection", "Appliquer aussi aux parents : sources",
        "Filtrer aussi les parents par source (un parent n'a pas de source : il passe si l'une des sources "
        "de ses enfants est listée).")
    acteur_types: tuple[str, ...] = _param(
        (), "codes", "Sélection", "Types d'acteur", "Types d'acteur à regrouper (vide = tous).",
        choices=ACTEUR_TYPE_LABELS)
    acteur_types_apply_to_parents: bool = _apply_to_parents(True, "types d'acteur")
    departements: tuple[str, ...] = _param(
        (), "codes", "Sélection", "Départements",
        "Départements à regrouper, codes du seed departements (« 01 », « 2A », « 971 ») ; vide = tous, "
        "plus « inconnu » pour les codes postaux inutilisables.", choices=DEPARTEMENT_LABELS)
    departements_apply_to_parents: bool = _apply_to_parents(True, "départements")
    nom_regex: str = _param(
        "", "regex", "Sélection", "Expression régulière sur le nom",
        "Garder les acteurs dont le nom NORMALISÉ (nom_norm) correspond à cette expression régulière "
        "PostgreSQL (POSIX ARE, opérateur ~*, insensible à la casse) ; « \\y » marque une limite de mot "
        "(« \\b » y est un retour arrière) ; vide = pas de filtre.")
    nom_regex_apply_to_parents: bool = _apply_to_parents(False, "expression régulière sur le nom")
    required_fields: tuple[str, ...] = _param(
        (), "codes", "Sélection", "Champs obligatoires", "Champs bruts qui doivent être renseignés (ex. siret, adresse).",
        choices=RAW_FIELD_LABELS)
    required_fields_apply_to_parents: bool = _apply_to_parents(False, "champs obligatoires")
    normalize_drop_short_words: int = _param(
        0, "int", "Normalisation", "Supprimer les mots courts",
        "Supprimer des noms et adresses normalisés (nom_norm, adresse_norm) les mots de moins de N caractères "
        "(0 = désactivé).", minimum=0, maximum=10)
    normalize_sort_words: bool = _param(
        False, "bool", "Normalisation", "Trier les mots du nom",
        "Trier les mots uniques du nom normalisé (l'ordre des mots ne compte plus).")
    exact_match_fields: tuple[str, ...] = _param(
        (), "codes", "Rapprochement", "Champs à égalité stricte",
        "Champs normalisés qui doivent être égaux ET non vides pour que deux acteurs correspondent "
        "(ex. code_postal_norm) ; « » n'est jamais égal à « ».", choices=EXACT_FIELD_LABELS)
    fuzzy_fields: Mapping[str, float] = _param(
        DEFAULT_FUZZY_FIELDS, "weights", "Rapprochement", "Poids des champs du score",
        "Poids des champs approchés dans le score (renormalisés sur les champs que les deux acteurs ont ; "
        "le nom doit avoir un poids positif) ; réglés avec la table de seuils d'`evaluate`.",
        choices={f: f for f in FUZZY_FIELDS}, minimum=0, maximum=100)
    model: str = _param(
        DEFAULT_MODEL, "model", "Rapprochement", "Modèle de correspondance",
        "Ce qui donne à chaque paire sa probabilité : « latest » = le dernier modèle enregistré (table "
        "match_model ; s'il n'y en a pas, un modèle appris sur ce run comme « em ») ; « em » = un modèle "
        "Fellegi–Sunter appris par EM sur la sélection de ce run (trop peu de paires candidates : le modèle "
        "livré, ses u réestimés sur ce run) ; « rules » = l'ancien score pondéré (poids ci-dessus, seuil "
        "0.75 conseillé) ; ou l'identifiant d'un modèle enregistré (`data-platform model list`).",
        choices=MODEL_CHOICES)
    threshold: float = _param(
        DEFAULT_THRESHOLD, "number", "Rapprochement", "Seuil de correspondance",
        "Probabilité de correspondance dans [0, 1] au-dessus de laquelle deux acteurs sont un même lieu "
        "(0.5 = plus probablement le même lieu que non ; avec model = rules, c'est le score pondéré).",
        minimum=0, maximum=1)
    allow_same_source: bool = _param(
        False, "bool", "Rapprochement", "Autoriser deux acteurs d'une même source",
        "Autoriser deux acteurs d'une même source dans un même cluster.")
    max_distance_m: float = _param(
        0.0, "number", "Rapprochement", "Distance maximale (m)",
        "Deux acteurs (tous deux géolocalisés) plus éloignés que cette distance en mètres ne correspondent "
        "jamais (0 = désactivé).", minimum=0, maximum=1_000_000)
    national: bool = _param(
        True, "bool", "Rapprochement", "Comparer aussi entre partitions",
        "Après les partitions par département, chercher les doublons dont les deux acteurs sont dans deux "
        "partitions différentes (« inconnu » compris : code postal vide, erroné ou d'un autre département) : "
        "coordonnées à moins de ~75 m, même SIRET ou téléphone, nom + rue presque identiques ; mêmes "
        "comparaisons, même modèle, mêmes règles de regroupement (data_platform.cluster.national).")
    parent_source_priority: tuple[str, ...] = _param(
        DEFAULT_PARENT_PRIORITY, "ordered", "Parents", "Priorité des sources pour les données du parent",
        "Sources par ordre de confiance pour choisir les données du parent, une par ligne, la plus fiable "
        "en premier.", choices=SOURCE_LABELS)
    parent_excluded_sources: tuple[str, ...] = _param(
        (), "codes", "Parents", "Sources exclues des données du parent",
        "Sources dont les données ne sont jamais copiées dans le parent.", choices=SOURCE_LABELS)
    keep_parent_data: bool = _param(
        True, "bool", "Parents", "Garder les données du parent existant",
        "Les valeurs non vides d'un parent existant l'emportent sur celles de ses membres.")
    dry_run: bool = _param(
        False, "bool", "Exécution", "Simulation", "Calculer et produire le rapport sans écrire de suggestion.")
    batches: int = _param(
        0, "int", "Exécution", "Nombre de lots",
        "Nombre de lots de départements (une tâche Airflow chacun, répartis sur les workers) : le nombre de "
        "slots qui les exécutent, p. ex. workers × concurrence Celery ; 0 = DP_CLUSTER_BATCHES du déploiement "
        "(4 par défaut). Les résultats ne dépendent pas du découpage.", minimum=0, maximum=256)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_raw(cls, raw: Mapping | None = None, conn=None) -> RunParams:
        """Defaults filled in, every value checked; raises ParamError naming the first bad parameter.

        None (what the Airflow form submits for an emptied field) means the default. With `conn`,
        the name regex is also compiled by PostgreSQL (`select '' ~* %s`), the dialect dbt runs it in.
        """
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(SPECS))
        if unknown:
            raise ParamError(unknown[0], f"unknown parameter; known: {', '.join(SPECS)}")
        values = {}
        for name, spec in SPECS.items():
            value = raw.get(name)
            values[name] = DEFAULTS[name] if value is None else _VALIDATORS[spec.kind](name, value, spec)
        params = cls(**values)
        if conn is not None and params.nom_regex:
            check_regex_in_postgres(conn, params.nom_regex)
        return params

    @classmethod
    def from_dict(cls, stored: Mapping) -> RunParams:
        """From the JSON form written by start_run (already validated); a key missing from an older row
        gets its default."""
        values = {}
        for name, spec in SPECS.items():
            value = stored.get(name, DEFAULTS[name])
            if spec.kind in ("codes", "ordered"):
                value = tuple(value or ())
            elif spec.kind == "weights":
                value = Weights(value)
            values[name] = value
        return cls(**values)

    @classmethod
    def load(cls, conn, run_id: str) -> RunParams:
        """The parameters of a run, from `cluster_run.params`; LookupError for an unknown run."""
        with conn.cursor() as cur:
            cur.execute("select params from cluster_run where run_id = %s", (validate_run_id(run_id),))
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"no clustering run {run_id!r}")
        stored = row[0]
        return cls.from_dict(json.loads(stored) if isinstance(stored, str) else (stored or {}))

    def replace(self, **changes) -> RunParams:
        """A copy with some values changed, validated."""
        return RunParams.from_raw({**self.to_dict(), **changes})

    # ------------------------------------------------------------ outputs

    def to_dict(self) -> dict:
        """The JSON form stored in `cluster_run.params` (every key, lists as lists)."""
        out = {}
        for name, spec in SPECS.items():
            value = getattr(self, name)
            if spec.kind in ("codes", "ordered"):
                value = list(value)
            elif spec.kind == "weights":
                value = dict(value)
            out[name] = value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @cached_property
    def scoring(self) -> Mapping[str, Any]:
        """What `scoring.score_pairs` reads: the weights, the exact-match fields, the distance cut-off."""
        return {"fuzzy_fields": self.fuzzy_fields, "exact_match_fields": self.exact_match_fields,
                "max_distance_m": self.max_distance_m}


SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in dataclasses.fields(RunParams)}
DEFAULTS: dict[str, Any] = {f.name: (f.default_factory() if f.default is dataclasses.MISSING else f.default)
                            for f in dataclasses.fields(RunParams)}
DEFAULT_PARAMS: dict = RunParams().to_dict()


def validate_params(raw: Mapping | None, conn=None) -> dict:
    """The JSON form of `RunParams.from_raw(raw, conn)`."""
    return RunParams.from_raw(raw, conn).to_dict()


# ---------------------------------------------------------------- validators, one per kind

def _codes(name, value, spec: Spec) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ParamError(name, f"expected a list of strings, got {value!r}")
    for v in value:
        if v not in spec.choices:
            codes = list(spec.choices)
            allowed = ", ".join(codes) if len(codes) <= 20 else f"{', '.join(codes[:3])} … {codes[-1]} ({len(codes)} codes)"
            raise ParamError(name, f"unknown value {v!r}; allowed: {allowed}")
    return tuple(sorted(set(value), key=value.index))


def _bool(name, value, spec: Spec) -> bool:
    if isinstance(value, bool):
        return value
    raise ParamError(name, f"expected true or false, got {value!r}")


def _number(name, value, spec: Spec) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(name, f"expected a number, got {value!r}")
    if spec.kind == "int" and int(value) != value:
        raise ParamError(name, f"expected an integer, got {value!r}")
    if not spec.minimum <= value <= spec.maximum:
        raise ParamError(name, f"{value!r} is outside [{spec.minimum:g}, {spec.maximum:g}]")
    return int(value) if spec.kind == "int" else float(value)


_PG_BACKSPACE = re.compile(r"(?<!\\)(?:\\\\)*\\b")


def _regex(name, value, spec: Spec) -> str:
    if not isinstance(value, str) or len(value) > REGEX_MAX_LENGTH:
        raise ParamError(name, f"expected a string of at most {REGEX_MAX_LENGTH} characters")
    if _PG_BACKSPACE.search(value):
        raise ParamError(name, r"'\b' is a backspace in PostgreSQL regular expressions; use '\y' for a word boundary")
    return value


def _weights(name, value, spec: Spec) -> Mapping[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ParamError(name, "expected a non-empty mapping of field → weight")
    clean = {}
    for f, weight in value.items():
        if f not in spec.choices:
            raise ParamError(name, f"unknown field {f!r}; allowed: {', '.join(spec.choices)}")
        clean[f] = _number(f"{name}.{f}", weight, spec)
    if sum(clean.values()) <= 0:
        raise ParamError(name, "weights must not all be zero")
    if clean.get("nom", 0) <= 0:
        raise ParamError(name, "the name ('nom') must have a positive weight")
    return Weights({f: clean[f] for f in spec.choices if f in clean})


def _model(name, value, spec: Spec) -> str:
    """'latest', 'em', 'rules' or the id of a saved model (an integer, or its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        value = value.strip()
        if value in spec.choices or (value.isdigit() and int(value) > 0 and len(value) < 19):
            return str(int(value)) if value.isdigit() else value
    raise ParamError(name, f"expected {', '.join(spec.choices)} or a saved model id, got {value!r}")


_VALIDATORS = {"model": _model, "codes": _codes, "ordered": _codes, "bool": _bool, "int": _number, "number": _number,
               "regex": _regex, "weights": _weights}


def check_regex_in_postgres(conn, regex: str) -> None:
    """Compile the name regex with PostgreSQL (bound, in a savepoint); ParamError('nom_regex') if it refuses."""
    import psycopg2

    with conn.cursor() as cur:
        cur.execute("savepoint check_nom_regex")
        try:
            cur.execute("select '' ~* %s", (regex,))
        except psycopg2.DataError as err:
            cur.execute("rollback to savepoint check_nom_regex")
            detail = (err.diag.message_primary or str(err)).strip()
            raise ParamError("nom_regex", f"invalid PostgreSQL regular expression {regex!r}: {detail}") from err
        cur.execute("release savepoint check_nom_regex")


RUN_ID_RE = re.compile(r"[A-Za-z0-9_.:+-]{1,250}")


def validate_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise ParamError("run_id", f"invalid run id {run_id!r} (letters, digits and _.:+- only)")
    return run_id


# ---------------------------------------------------------------- the Airflow form

def _form_default(name: str):
    """An empty default ([] or "") is shown as an empty field, which the form submits as null."""
    return None if DEFAULTS[name] in ((), "") else DEFAULT_PARAMS[name]


def param_schema(name: str) -> dict:
    """The JSON schema (with Airflow's form keywords) of one parameter."""
    spec = SPECS[name]
    schema: dict = {"title": spec.title, "description": f"{name} — {spec.description}", "section": spec.section}
    codes = list(spec.choices or ())
    # Codes are offered (`examples`), not enforced (`enum`): an unknown code reaches the first task, whose
    # error names the parameter, like every other invalid value (the form checks types and bounds).
    if spec.kind == "codes":
        schema.update(type="array", items={"type": "string"}, examples=codes, values_display=dict(spec.choices))
    elif spec.kind == "ordered":
        # no `examples`: Airflow shows a text area, one value per line, in the order typed
        schema.update(type="array", items={"type": "string"})
        schema["description"] += " Valeurs : " + ", ".join(f"{c} ({label})" for c, label in spec.choices.items()) + "."
    elif spec.kind == "bool":
        schema.update(type="boolean")
    elif spec.kind in ("int", "number"):
        schema.update(type="integer" if spec.kind == "int" else "number", minimum=spec.minimum,
                      maximum=spec.maximum)
    elif spec.kind == "regex":
        schema.update(type="string", maxLength=REGEX_MAX_LENGTH)
    elif spec.kind == "model":
        schema.update(type="string", examples=codes, values_display=dict(spec.choices))
    elif spec.kind == "weights":
        schema.update(type="object", properties={f: {"type": "number", "minimum": spec.minimum, "maximum": spec.maximum}
                                  for f in codes})
    # every field accepts null (= the default): none is "required", an emptied field still submits
    schema["type"] = ["null", schema["type"]]
    return schema


def airflow_params() -> dict:
    """{name: airflow Param} for the DAG's trigger form, in the table's order."""
    from airflow.sdk import Param

    out = {}
    for name in SPECS:
        schema = param_schema(name)
        description = schema.pop("description")
        out[name] = Param(_form_default(name), description=description, **schema)
    return out


# ---------------------------------------------------------------- the docs

CONTRACTS_BEGIN = "<!-- run-params:begin (generated by `python -m data_platform.cluster.params`) -->"
CONTRACTS_END = "<!-- run-params:end -->"
_KIND_TYPES = {"codes": "liste de codes", "ordered": "liste ordonnée de codes", "bool": "booléen",
               "int": "entier", "number": "nombre", "regex": "texte (regex PostgreSQL)",
               "weights": "objet champ → poids", "model": "texte (choix ou id de modèle)"}


def contracts_markdown() -> str:
    """The parameter table of docs/CONTRACTS.md (between CONTRACTS_BEGIN and CONTRACTS_END)."""
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [CONTRACTS_BEGIN, "",
             "| paramètre | section | titre | type | défaut | valeurs | description |",
             "|---|---|---|---|---|---|---|"]
    for name, spec in SPECS.items():
        kind = _KIND_TYPES[spec.kind]
        if spec.minimum is not None:
            kind += f" dans [{spec.minimum:g}, {spec.maximum:g}]"
        if spec.kind in ("codes", "ordered") and spec.choices is DEPARTEMENT_LABELS:
            values = "codes du seed `departements`, 975, `inconnu`"
        elif spec.choices:
            values = ", ".join(f"`{c}`" for c in spec.choices)
        else:
            values = ""
        default = json.dumps(DEFAULT_PARAMS[name], ensure_ascii=False)
        lines.append(f"| `{name}` | {spec.section} | {cell(spec.title)} | {kind} | `{cell(default)}` | "
                     f"{cell(values)} | {cell(spec.description)} |")
    lines += ["", CONTRACTS_END]
    return "\n".join(lines)


def rewrite_contracts(path) -> bool:
    """Replace the generated section of `path` with `contracts_markdown()`; True if it changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = text.index(CONTRACTS_BEGIN), text.index(CONTRACTS_END) + len(CONTRACTS_END)
    new = text[:start] + contracts_markdown() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    from data_platform.settings import ROOT

    print("rewritten" if rewrite_contracts(ROOT / "docs" / "CONTRACTS.md") else "up to date")
