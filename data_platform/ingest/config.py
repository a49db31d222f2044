"""Declarative source configurations: one YAML file per source in data_platform/ingest/sources/.

A file may `extends:` a template (a file whose name starts with '_'); mappings are merged, the
source's own keys win. No database access: the DAG reads these at parse time.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from data_platform.ingest.cleaning import clean_text, label_key

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
ACTEUR_TYPE_CODES = {"ess", "collectivite", "artisan", "commerce", "acteur_digital", "decheterie", "ets_sante",
                     "plateforme_inertes", "pav_public", "pav_prive", "pav_ponctuel"}
MAPPABLE_FIELDS = {"nom", "nom_commercial", "siren", "siret", "adresse_ban", "adresse", "adresse_complement",
                   "code_postal", "ville", "latitude", "longitude", "telephone", "email", "url", "acteur_type"}


class ConfigError(ValueError):
    pass


@dataclass
class SourceConfig:
    code: str
    host: str
    dataset: str
    id_column: str
    columns: dict[str, str]
    filters: dict[str, str] = field(default_factory=dict)
    acteur_type_default: str = ""
    acteur_type_mapping: dict[str, str] = field(default_factory=dict)
    geopoint_fallback: bool = True
    max_deleted_share: float = 0.10
    page_size: int = 10000
    format: str = "json"                  # /lines format: json, or csv (BOM tolerated)
    path: str = ""

    @property
    def api_base(self) -> str:
        return self.host.rstrip("/") + "/data-fair/api/v1"

    def source_columns(self) -> list[str]:
        """Every dataset column the mapping reads (the 'lost column' guard checks these)."""
        cols = [self.id_column] + [c for c in self.columns.values() if c]
        return list(dict.fromkeys(cols))

    def resolved_filters(self, year: int | None = None) -> dict[str, str]:
        year = year or (dt.date.today().year - 1)
        return {k: str(v).format(year=year) for k, v in self.filters.items()}

    def acteur_type_for(self, label) -> tuple[str, str]:
        """(code, label as published); code '' when the label is unknown and there is no default."""
        text = clean_text(label)
        if not text:
            return self.acteur_type_default, text
        key = label_key(text)
        if key in self.acteur_type_mapping:
            return self.acteur_type_mapping[key], text
        if key.replace(" ", "_") in ACTEUR_TYPE_CODES:
            return key.replace(" ", "_"), text
        return self.acteur_type_default, text


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parent = data.pop("extends", None)
    if parent:
        data = _merge(_read(path.parent / parent), data)
    return data


def load_source(path: Path) -> SourceConfig:
    data = _read(path)
    where = f"{path.name}"
    for key in ("code", "host", "dataset", "id_column", "columns"):
        if not data.get(key):
            raise ConfigError(f"{where}: missing key {key!r}")
    columns = {k: v for k, v in data["columns"].items() if v}
    unknown = set(columns) - MAPPABLE_FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown target field(s) {sorted(unknown)} (allowed: {sorted(MAPPABLE_FIELDS)})")
    at = data.get("acteur_type") or {}
    mapping = {label_key(k): v for k, v in (at.get("mapping") or {}).items()}
    bad = {v for v in mapping.values() if v not in ACTEUR_TYPE_CODES}
    default = at.get("default", "") or ""
    if default and default not in ACTEUR_TYPE_CODES:
        bad.add(default)
    if bad:
        raise ConfigError(f"{where}: unknown acteur_type code(s) {sorted(bad)}")
    fmt = str(data.get("format", "json"))
    if fmt not in ("json", "csv"):
        raise ConfigError(f"{where}: format must be json or csv, got {fmt!r}")
    share = float(data.get("max_deleted_share", 0.10))
    if not 0 <= share <= 1:
        raise ConfigError(f"{where}: max_deleted_share must be in [0, 1], got {share}")
    return SourceConfig(
        code=str(data["code"]), host=str(data["host"]), dataset=str(data["dataset"]),
        id_column=str(data["id_column"]), columns=columns,
        filters={str(k): str(v) for k, v in (data.get("filters") or {}).items()},
        acteur_type_default=default, acteur_type_mapping=mapping,
        geopoint_fallback=bool(data.get("geopoint_fallback", True)), max_deleted_share=share,
        page_size=int(data.get("page_size", 10000)), format=fmt, path=str(path))


def load_sources(codes: list[str] | None = None, directory: Path = SOURCES_DIR) -> list[SourceConfig]:
    """Configured sources (sorted by code), optionally only `codes` (an unknown code is an error)."""
    configs = [load_source(p) for p in sorted(directory.glob("*.yml")) if not p.name.startswith("_")]
    by_code = {c.code: c for c in configs}
    if len(by_code) != len(configs):
        raise ConfigError("two source files declare the same code")
    if codes:
        missing = [c for c in codes if c not in by_code]
        if missing:
            raise ConfigError(f"unknown source(s) {missing}; configured: {sorted(by_code)}")
        return [by_code[c] for c in sorted(set(codes))]
    return sorted(configs, key=lambda c: c.code)


def source_codes() -> list[str]:
    return [c.code for c in load_sources()]
