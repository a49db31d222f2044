"""The five typed change records of a cluster (SPEC §3.1 step 6, docs/CONTRACTS.md "Change records").

Each record validates itself when built (`__post_init__`): the fields its type needs are there, the
ones it must not have are absent, `order` matches the type, and a parent's `data` holds only
copyable fields. Errors are `ChangeValidationError`, whose message names the cluster, the actor and
the field at fault.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "CHANGE_CLASSES", "CHANGE_ORDER", "CHANGE_TYPES", "COPYABLE_FIELDS", "CREATE", "DELETE", "IDENTITY_FIELDS",
    "KEEP", "UPDATE", "VERIFY", "Change", "ChangeValidationError", "CreateAsParent", "DeleteAsParent",
    "KeepAsParent", "UpdateParentId", "VerifyInRevision", "change_from_json", "make_change",
]

# Never copied into a parent (SPEC §3.1 step 5).
IDENTITY_FIELDS = frozenset({
    "identifiant_unique", "identifiant_externe", "source", "statut", "parent_id", "cree_le", "modifie_le",
})

# What a parent's data may hold, in the canonical order used by to_json().
COPYABLE_FIELDS = (
    "acteur_type", "nom", "nom_commercial", "siren", "siret", "adresse", "adresse_complement",
    "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url",
)
_FIELD_RANK = {name: i for i, name in enumerate(COPYABLE_FIELDS)}

CREATE = "acteur_create_as_parent"
KEEP = "acteur_keep_as_parent"
UPDATE = "acteur_update_parent_id"
VERIFY = "acteur_verify_in_revision"
DELETE = "acteur_delete_as_parent"

CHANGE_ORDER = {CREATE: 1, KEEP: 1, UPDATE: 2, VERIFY: 2, DELETE: 3}
CHANGE_TYPES = tuple(CHANGE_ORDER)  # in order of application
PARENT_TYPES = frozenset({CREATE, KEEP})
LINK_TYPES = frozenset({UPDATE, VERIFY})


class ChangeValidationError(ValueError):
    """A change record (or a cluster's set of records) that breaks the contract."""

    def __init__(self, cluster_id: Any, identifiant_unique: Any, field_name: str | None, problem: str):
        self.cluster_id = cluster_id
        self.identifiant_unique = identifiant_unique
        self.field = field_name
        self.problem = problem
        where = f"cluster {cluster_id!r}, acteur {identifiant_unique!r}"
        if field_name:
            where += f", field {field_name!r}"
        super().__init__(f"{where}: {problem}")


def _check_id(cluster_id: Any, ident: Any, name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ChangeValidationError(cluster_id, ident, name, f"must be a non-empty string, got {value!r}")


NUMERIC_FIELDS = frozenset({"latitude", "longitude"})


def _check_value(cluster_id: str, ident: str, name: str, value: Any) -> None:
    """Coordinates are finite numbers, every other copyable field is text; null is allowed."""
    if value is None:
        return
    if name in NUMERIC_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ChangeValidationError(cluster_id, ident, name,
                                        f"value must be a number or null, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ChangeValidationError(cluster_id, ident, name, f"value {value!r} is not a finite number")
        return
    if not isinstance(value, str):
        raise ChangeValidationError(cluster_id, ident, name,
                                    f"value must be a string or null, got {type(value).__name__}")


@dataclass(frozen=True)
class Change:
    """Common part of every change record. Build the concrete classes below (or `make_change`)."""

    TYPE: ClassVar[str] = ""

    cluster_id: str
    identifiant_unique: str
    order: int | None = None  # None: the type's order

    def __post_init__(self) -> None:
        _check_id(self.cluster_id, self.identifiant_unique, "cluster_id", self.cluster_id)
        _check_id(self.cluster_id, self.identifiant_unique, "identifiant_unique", self.identifiant_unique)
        expected = CHANGE_ORDER[self.TYPE]
        if self.order is None:
            object.__setattr__(self, "order", expected)
        elif isinstance(self.order, bool) or not isinstance(self.order, int) or self.order != expected:
            raise ChangeValidationError(self.cluster_id, self.identifiant_unique, "order",
                                        f"{self.TYPE} must have order {expected}, got {self.order!r}")

    @property
    def type(self) -> str:
        return self.TYPE

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.order, self.identifiant_unique)

    def to_json(self) -> dict:
        """The CONTRACTS.md shape, keys always in the same order."""
        return {"order": self.order, "type": self.TYPE, "identifiant_unique": self.identifiant_unique}


@dataclass(frozen=True)
class _ParentChange(Change):
    """create/keep: the cluster's parent, with the data chosen for it and where each value came from."""

    data: Mapping[str, Any] | None = None
    origine: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        cid, ident = self.cluster_id, self.identifiant_unique
        if self.data is None:
            raise ChangeValidationError(cid, ident, "data", f"{self.TYPE} requires data")
        if not isinstance(self.data, Mapping):
            raise ChangeValidationError(cid, ident, "data", f"must be an object, got {type(self.data).__name__}")
        for key, value in self.data.items():
            if key in IDENTITY_FIELDS:
                raise ChangeValidationError(cid, ident, key,
                                            f"identity field must not be in the data of {self.TYPE}")
            if key not in _FIELD_RANK:
                raise ChangeValidationError(cid, ident, key, f"unknown field in the data of {self.TYPE}")
            _check_value(cid, ident, key, value)
        if self.origine is None:
            object.__setattr__(self, "origine", {})
        if not isinstance(self.origine, Mapping):
            raise ChangeValidationError(cid, ident, "origine",
                                        f"must be an object, got {type(self.origine).__name__}")
        for key, source_id in self.origine.items():
            if key not in self.data:
                raise ChangeValidationError(cid, ident, f"origine.{key}", "origin given for a field not in data")
            _check_id(cid, ident, f"origine.{key}", source_id)
        # Canonical key order, frozen copies: the record is a value.
        object.__setattr__(self, "data", {k: self.data[k] for k in sorted(self.data, key=_FIELD_RANK.__getitem__)})
        object.__setattr__(self, "origine",
                           {k: self.origine[k] for k in sorted(self.origine, key=_FIELD_RANK.__getitem__)})

    def to_json(self) -> dict:
        out = super().to_json()
        out["data"] = dict(self.data)
        return out


@dataclass(frozen=True)
class _LinkChange(Change):
    """update/verify: an actor that points (or will point) to the cluster's parent."""

    parent_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.parent_id is None:
            raise ChangeValidationError(self.cluster_id, self.identifiant_unique, "parent_id",
                                        f"{self.TYPE} requires parent_id")
        _check_id(self.cluster_id, self.identifiant_unique, "parent_id", self.parent_id)
        if self.parent_id == self.identifiant_unique:
            raise ChangeValidationError(self.cluster_id, self.identifiant_unique, "parent_id",
                                        "an actor cannot be its own parent")

    def to_json(self) -> dict:
        out = super().to_json()
        out["parent_id"] = self.parent_id
        return out


def _record(name: str, base: type[Change], change_type: str) -> type[Change]:
    """A concrete record: `base` (its fields and checks) with `TYPE` = change_type."""
    attrs = {"TYPE": change_type, "__module__": __name__, "__qualname__": name,
             "__doc__": f"The {change_type} change record."}
    return dataclass(frozen=True)(type(name, (base,), attrs))


CreateAsParent = _record("CreateAsParent", _ParentChange, CREATE)
KeepAsParent = _record("KeepAsParent", _ParentChange, KEEP)
UpdateParentId = _record("UpdateParentId", _LinkChange, UPDATE)
VerifyInRevision = _record("VerifyInRevision", _LinkChange, VERIFY)
DeleteAsParent = _record("DeleteAsParent", Change, DELETE)

CHANGE_CLASSES: dict[str, type[Change]] = {
    CREATE: CreateAsParent, KEEP: KeepAsParent, UPDATE: UpdateParentId, VERIFY: VerifyInRevision,
    DELETE: DeleteAsParent,
}


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == ""


def make_change(change_type: str, cluster_id: str, identifiant_unique: str, order: int | None = None, *,
                parent_id: str | None = None, data: Mapping | None = None,
                origine: Mapping | None = None) -> Change:
    """Build the record of `change_type` from a `cluster_changes`-like row.

    Fields a type does not carry must be empty: `data`/`origine` outside create/keep is an error, and
    so is `parent_id` on a delete. On create/keep, a `parent_id` equal to the actor itself (the chosen
    parent, as a per-row column may repeat it) is accepted and dropped; any other is an error.
    """
    cls = CHANGE_CLASSES.get(change_type)
    if cls is None:
        raise ChangeValidationError(cluster_id, identifiant_unique, "type",
                                    f"unknown change type {change_type!r} (expected one of {', '.join(CHANGE_TYPES)})")
    if change_type in PARENT_TYPES:
        if not _empty(parent_id) and parent_id != identifiant_unique:
            raise ChangeValidationError(cluster_id, identifiant_unique, "parent_id",
                                        f"{change_type} must not point to another parent ({parent_id!r})")
        return cls(cluster_id, identifiant_unique, order, data=data, origine=origine or {})
    for name, value in (("data", data), ("origine", origine)):
        if not _empty(value):
            raise ChangeValidationError(cluster_id, identifiant_unique, name, f"{change_type} must not carry {name}")
    if change_type in LINK_TYPES:
        return cls(cluster_id, identifiant_unique, order, parent_id=parent_id)
    if not _empty(parent_id):
        raise ChangeValidationError(cluster_id, identifiant_unique, "parent_id",
                                    f"{change_type} must not carry parent_id ({parent_id!r})")
    return cls(cluster_id, identifiant_unique, order)


def change_from_json(cluster_id: str, obj: Mapping) -> Change:
    """Inverse of `Change.to_json` (for code that reads `suggestion.changes` back)."""
    return make_change(obj.get("type"), cluster_id, obj.get("identifiant_unique"), obj.get("order"),
                       parent_id=obj.get("parent_id"), data=obj.get("data"))
