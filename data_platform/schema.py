"""The actor's fields, once (SPEC §2.1, docs/CONTRACTS.md): every list of acteur columns derives from
`FIELDS`, and tests/test_schema.py checks it against the Django models (webapp/acteurs/models.py).

A field has a kind:
- identity: who the actor is (identifiant_unique, identifiant_externe, source, parent_id); never copied
  into a parent's data (SPEC §3.1 step 5);
- text: '' rather than NULL when empty (acteur_type is text too, a code of table acteur_type);
- coordinate: latitude/longitude, float, NULL when unknown;
- status: statut (ACTIF / INACTIF / SUPPRIME; '' in a revision = not overridden);
- timestamp: cree_le, modifie_le, set by the database.

Derived lists, in catalogue order:
- `ACTEUR_COLUMNS`: the columns of an acteur CSV (load-csv, the generator's --out) and of a full
  acteur row written by the platform;
- `REVISION_COLUMNS`: the same plus parent_id (a revision row written in bulk);
- `SOURCE_COLUMNS`: what a source publishes, i.e. what ingestion's cleaning outputs (no statut);
- `COPYABLE_FIELDS` / `IDENTITY_FIELDS`: what a parent's `data` may / may not hold;
- `TEXT_COLUMNS`, `COORDINATE_COLUMNS`: the CSV columns by type;
- `BLANK_TEXT_COLUMNS`: '' rather than NULL when empty.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

IDENTITY, TEXT, COORDINATE, STATUS, TIMESTAMP = "identity", "text", "coordinate", "status", "timestamp"
KINDS = (IDENTITY, TEXT, COORDINATE, STATUS, TIMESTAMP)

STATUTS = ("ACTIF", "INACTIF", "SUPPRIME")


@dataclass(frozen=True)
class Field:
    name: str                       # column name in acteur / revision_acteur (and in CSV files)
    kind: str                       # one of KINDS
    copyable: bool = False          # may be copied into a parent's data (SPEC §3.1 step 5)
    in_acteur: bool = True          # a column of table acteur
    in_revision: bool = True        # a column of table revision_acteur
    csv: bool = True                # a column of acteur CSV files
    from_source: bool = True        # published by a source (ingestion's cleaned rows carry it)
    references: str | None = None   # the table whose `code` this column holds (foreign key)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if self.copyable and self.kind == IDENTITY:
            raise ValueError(f"{self.name}: an identity field is never copied into a parent")


def _text(name: str, **kw) -> Field:
    return Field(name, TEXT, copyable=True, **kw)


FIELDS: tuple[Field, ...] = (
    Field("identifiant_unique", IDENTITY),
    Field("identifiant_externe", IDENTITY),
    Field("source", IDENTITY, references="source"),
    _text("acteur_type", references="acteur_type"),
    Field("statut", STATUS, from_source=False),
    _text("nom"),
    _text("nom_commercial"),
    _text("siren"),
    _text("siret"),
    _text("adresse"),
    _text("adresse_complement"),
    _text("code_postal"),
    _text("ville"),
    Field("latitude", COORDINATE, copyable=True),
    Field("longitude", COORDINATE, copyable=True),
    _text("telephone"),
    _text("email"),
    _text("url"),
    Field("parent_id", IDENTITY, in_acteur=False, csv=False, from_source=False, references="revision_acteur"),
    Field("cree_le", TIMESTAMP, csv=False, from_source=False),
    Field("modifie_le", TIMESTAMP, csv=False, from_source=False),
)
BY_NAME = {f.name: f for f in FIELDS}


def names(**where) -> list[str]:
    """Names of the fields whose attributes equal `where` (e.g. names(kind=TEXT, csv=True)), in catalogue order."""
    unknown = set(where) - set(Field.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown field attribute(s): {sorted(unknown)}")
    return [f.name for f in FIELDS if all(getattr(f, k) == v for k, v in where.items())]


ACTEUR_TABLE_COLUMNS = names(in_acteur=True)
REVISION_TABLE_COLUMNS = names(in_revision=True)

ACTEUR_COLUMNS = names(csv=True)
REVISION_COLUMNS = ACTEUR_COLUMNS + ["parent_id"]
SOURCE_COLUMNS = names(from_source=True)
COORDINATE_COLUMNS = names(kind=COORDINATE)
TEXT_COLUMNS = [c for c in ACTEUR_COLUMNS if c not in COORDINATE_COLUMNS]  # read and written as str
# stored as '' rather than NULL when empty (database default ''), in both tables; the others are NULL when empty
# in revision_acteur (coordinates, and the foreign keys source, acteur_type, parent_id)
BLANK_TEXT_COLUMNS = [f.name for f in FIELDS if f.kind in (IDENTITY, TEXT, STATUS) and f.references is None]

COPYABLE_FIELDS = tuple(names(copyable=True))
IDENTITY_FIELDS = frozenset(names(copyable=False))


# -- identifiant_unique (SPEC §2.1): `<source>_<identifiant_externe with spaces removed and / replaced by ->` --

_ID_SPACES = re.compile(r"\s+")


def identifiant_unique(source: str, identifiant_externe: str) -> str:
    return f"{source}_{_ID_SPACES.sub('', identifiant_externe).replace('/', '-')}"


def derive_identifiant_unique(source, identifiant_externe):
    """identifiant_unique of pandas Series, vectorized (the same rule)."""
    ext = identifiant_externe.astype(str).str.replace(_ID_SPACES, "", regex=True).str.replace("/", "-", regex=False)
    return source.astype(str) + "_" + ext
