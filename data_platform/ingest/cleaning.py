"""Cleaning rules for rows published on ADEME's data-fair portals. Pure functions, no I/O.

Every function takes the raw value as published (str, number or None) and returns the cleaned
value, '' (or None for coordinates) when nothing usable remains. `clean_row` applies a source's
configuration to one raw row and says why it rejects a row (field and reason).

The same rules validate the entry points that refuse a value instead of cleaning it (load-csv):
`VALIDATED_FIELDS` names the fields checked and why a value fails, `invalid_values(field, values)` says
which values the field's cleaner turns into '' (each distinct value checked once).
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import phonenumbers
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from data_platform.schema import SOURCE_COLUMNS, identifiant_unique

NULL_LIKE = frozenset({"", "null", "none", "n/a", "na", "nan", "-", "--", "n.a.", "nc", "n.c.", "#n/a", "?", "."})

_FLOAT_INT = re.compile(r"\d+\.0+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_HTTP = re.compile(r"https?://", re.IGNORECASE)
_NON_DIGIT = re.compile(r"\D")
_CEDEX = re.compile(r"\s*\bcedex\b(\s*\d{1,3})?\s*$", re.IGNORECASE)
# the last postal code of the string (4 digits = leading zero lost), then the city
_CP_VILLE = re.compile(r"(?:^|[\s,;\-])(\d{5}|\d{4}|\d{2}\s\d{3})(?:[\s,;\-]+|$)(?P<ville>[^\d]*)$")
_SEPARATORS = re.compile(r"\s*(?:;|,|\s-\s)\s*")
_TRAILING_SEP = re.compile(r"[\s,;\-]+$")
_LEADING_SEP = re.compile(r"^[\s,;\-]+")

# a French postal code: a département (01–95, Corsica 20xxx), an overseas département or collectivity
# (971–978), Monaco (980xx) or the Pacific collectivities (984–988); '00…', '96…', '99…' are not
_POSTAL_CODE = re.compile(r"(?:0[1-9]|[1-8][0-9]|9[0-5])[0-9]{3}|97[1-8][0-9]{2}|98[04-8][0-9]{2}")

# metropolitan France, for swapped-coordinates detection
_FR_LAT = (41.0, 51.6)
_FR_LON = (-5.6, 10.0)


def clean_text(value) -> str:
    """Strip, collapse whitespace, and turn null-like strings ("null", "n/a", "-", ...) into ''."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    text = " ".join(str(value).split())
    return "" if len(text) < 7 and text.lower() in NULL_LIKE else text


def _number_text(value) -> str:
    """A value that spreadsheets may have turned into a number: 1000.0 -> '1000'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = clean_text(value)
    if "." in text and _FLOAT_INT.fullmatch(text):
        text = text.split(".")[0]
    return text


def clean_code_postal(value) -> str:
    """'1000' -> '01000', '75002 CEDEX' -> '75002', '75 002' -> '75002'; '' when not a French postal code
    (5 digits starting with a département or an overseas code: '99999' and '00100' are not)."""
    text = _CEDEX.sub("", _number_text(value))
    text = text.replace(" ", "")
    if not text.isdigit():
        return ""
    if len(text) == 4:
        text = "0" + text
    return text if _POSTAL_CODE.fullmatch(text) else ""


def clean_ville(value) -> str:
    """City name without a CEDEX suffix ('Marseille CEDEX 01' -> 'Marseille')."""
    return _CEDEX.sub("", clean_text(value)).strip()


def split_adresse_ban(value) -> tuple[str, str, str]:
    """'12 rue de la Paix 75002 Paris' -> ('12 rue de la Paix', '75002', 'Paris').

    Handles CEDEX suffixes, a lost leading zero and ',', ';' or ' - ' between parts. With no postal
    code found the whole text is the address.
    """
    text = _CEDEX.sub("", clean_text(value))
    if not text:
        return "", "", ""
    match = _CP_VILLE.search(text)
    if not match:
        return _join_parts(text), "", ""
    ville = clean_ville(_LEADING_SEP.sub("", match.group("ville")))
    ville = _TRAILING_SEP.sub("", ville)
    adresse = _join_parts(text[: match.start(1)])
    return adresse, clean_code_postal(match.group(1)), ville


def _join_parts(text: str) -> str:
    text = _TRAILING_SEP.sub("", _LEADING_SEP.sub("", text))
    parts = [p for p in _SEPARATORS.split(text) if p and p.lower() not in NULL_LIKE]
    return ", ".join(parts)


def _digits(value) -> str:
    return _NON_DIGIT.sub("", _number_text(value))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def clean_siret(value) -> str:
    """14 digits passing the Luhn check (La Poste's exception included), else ''. A lost leading zero is restored.

    A plain Luhn check of the SIRET and its SIREN first (fast path, the same rule as python-stdnum);
    what it refuses goes through `stdnum.fr.siret`, which knows La Poste's exception."""
    digits = _digits(value)
    if len(digits) == 13:
        digits = "0" + digits
    if len(digits) != 14:
        return ""
    if _luhn_ok(digits) and _luhn_ok(digits[:9]):
        return digits
    return digits if stdnum_siret.is_valid(digits) else ""


def clean_siren(value, siret: str = "") -> str:
    """9 digits passing the Luhn check, else the SIREN of a valid SIRET, else ''."""
    digits = _digits(value)
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) == 9 and (_luhn_ok(digits) or stdnum_siren.is_valid(digits)):
        return digits
    return siret[:9] if siret else ""


def clean_telephone(value) -> str:
    """French numbers as 10 national digits ('0123456789'), others in E.164; '' when not a valid number.

    '33123456789' and '0033 1 23 45 67 89' -> '0123456789'; '123456789' (lost leading zero) -> '0123456789'.
    """
    text = _number_text(value)
    if not text:
        return ""
    digits = _NON_DIGIT.sub("", text)
    if text.startswith("+33") and len(digits) == 11:
        candidate = "0" + digits[2:]
    elif text.startswith("+"):
        candidate = "+" + digits
    elif digits.startswith("00"):
        candidate = "+" + digits[2:]
    elif digits.startswith("33") and len(digits) == 11:
        candidate = "+" + digits
    elif len(digits) == 9 and not digits.startswith("0"):
        candidate = "0" + digits
    else:
        candidate = digits
    if len(candidate) == 10 and candidate[0] == "0" and _NATIONAL_VALID.fullmatch(candidate[1:]):
        return candidate  # fast path: a valid French national number, already in the output format
    if candidate.startswith("+33") and len(candidate) == 12 and _FR_VALID.fullmatch(candidate[3:]):
        # fast path: '33…' without its '+' (a spreadsheet's number), valid by France's own patterns,
        # which is what phonenumbers checks for +33; its national format is 0 + the 9 digits
        return "0" + candidate[3:]
    number = None
    # overseas départements share the 0 trunk prefix but have their own country codes
    for region in ("FR",) if candidate.startswith("+") else _REGIONS_TRIED:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            return ""
        if phonenumbers.is_valid_number(parsed):
            number = parsed
            break
    if number is None:
        return ""
    region = phonenumbers.region_code_for_number(number)
    if region in _FRENCH_REGIONS:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_REGIONS_TRIED = ("FR", "RE", "GP", "MQ", "GF", "YT")


def _national_patterns(regions=_REGIONS_TRIED) -> re.Pattern:
    """phonenumbers' own validity patterns for these regions (France and the overseas départements by
    default), national numbers."""
    from phonenumbers.phonemetadata import PhoneMetadata

    patterns = []
    for region in regions:
        md = PhoneMetadata.metadata_for_region(region)
        for desc in (md.fixed_line, md.mobile, md.toll_free, md.premium_rate, md.shared_cost,
                     md.personal_number, md.voip, md.uan):
            if desc is not None and desc.national_number_pattern:
                patterns.append(desc.national_number_pattern)
    return re.compile("(?:" + "|".join(patterns) + ")")


_FRENCH_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF"})
_NATIONAL_VALID = _national_patterns()
_FR_VALID = _national_patterns(("FR",))


def clean_email(value) -> str:
    text = clean_text(value).lower()
    return text if _EMAIL.fullmatch(text) else ""


def clean_url(value) -> str:
    text = clean_text(value)
    if not text or " " in text or "." not in text:
        return ""
    if not _HTTP.match(text):
        text = "https://" + text
    return text


def _to_float(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        f = float(value)
    else:
        text = clean_text(value).replace(",", ".").replace(" ", "")
        if not text:
            return None
        try:
            f = float(text)
        except ValueError:
            return None
    return f if math.isfinite(f) else None


def parse_geopoint(value) -> tuple[float | None, float | None]:
    """data-fair's `_geopoint` "lat,lon" -> (lat, lon)."""
    text = clean_text(value)
    if not text or text.count(",") != 1:
        return None, None
    lat, lon = text.split(",")
    return _to_float(lat), _to_float(lon)


def clean_coordinates(lat, lon) -> tuple[float | None, float | None]:
    """Range-checked WGS84 (lat, lon), swapped back when they were published the wrong way round
    for metropolitan France; (None, None) when unusable (missing, out of range, 0,0)."""
    flat, flon = _to_float(lat), _to_float(lon)
    if flat is None or flon is None:
        return None, None
    if _FR_LON[0] <= flat <= _FR_LON[1] and _FR_LAT[0] <= flon <= _FR_LAT[1]:
        flat, flon = flon, flat
    if not (-90 <= flat <= 90 and -180 <= flon <= 180) or (flat == 0 and flon == 0):
        return None, None
    return round(flat, 7), round(flon, 7)


@functools.lru_cache(maxsize=4096)
def label_key(label) -> str:
    """Accent-less, lower-case, punctuation-free key used to match actor type labels."""
    text = unicodedata.normalize("NFKD", clean_text(label)).encode("ascii", "ignore").decode().lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


# ---------------------------------------------------------------------------------------------
# validators: the cleaning rules, for entry points that refuse a value rather than clean it

# field -> (cleaner, why a value it turns into '' is refused)
_VALIDATORS = {
    "code_postal": (clean_code_postal, ("not a French postal code (5 digits starting with a département "
                                        "or an overseas code, e.g. 75002, 20000 for Ajaccio)")),
    "siret": (clean_siret, "not a valid SIRET (its Luhn checksum, or its SIREN's, fails)"),
    "siren": (clean_siren, "not a valid SIREN (its Luhn checksum fails)"),
    "telephone": (clean_telephone, "not a valid phone number (French national or international +…)"),
}
VALIDATED_FIELDS = {name: reason for name, (_clean, reason) in _VALIDATORS.items()}


def luhn_valid(digits: list[str], length: int) -> np.ndarray:
    """`_luhn_ok` of strings of exactly `length` ASCII digits, vectorized (one numpy pass)."""
    if not digits:
        return np.zeros(0, bool)
    d = (np.frombuffer("".join(digits).encode("ascii"), np.uint8).reshape(-1, length) - 48)[:, ::-1].astype(np.int32)
    doubled = d[:, 1::2] * 2
    doubled -= 9 * (doubled > 9)
    return (d[:, 0::2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0


def _surely_valid(field_name: str, values: list[str]) -> np.ndarray:
    """Values the field's cleaner is known to accept, found vectorized (a plain Luhn pass of a SIRET and of
    its SIREN, of a SIREN); the others go through the cleaner itself."""
    length = {"siret": 14, "siren": 9}.get(field_name)
    ok = np.zeros(len(values), bool)
    if length is None:
        return ok
    shaped = [i for i, v in enumerate(values) if len(v) == length and v.isascii() and v.isdigit()]
    if shaped:
        digits = [values[i] for i in shaped]
        good = luhn_valid(digits, length)
        if field_name == "siret":
            good &= luhn_valid([v[:9] for v in digits], 9)
        ok[np.asarray(shaped)[good]] = True
    return ok


def invalid_values(field_name: str, values) -> np.ndarray:
    """For each value, whether `field_name`'s cleaner refuses it ('' stays valid: an empty field is allowed);
    a boolean array, each distinct value cleaned once (those `_surely_valid` finds, not at all)."""
    clean = _VALIDATORS[field_name][0]
    values = list(values)
    distinct = list(set(values))
    sure = _surely_valid(field_name, distinct)
    verdict = {v: not ok and v != "" and not clean(v) for v, ok in zip(distinct, sure.tolist())}
    return np.fromiter((verdict[v] for v in values), dtype=bool, count=len(values))


# ---------------------------------------------------------------------------------------------
# one row

# the columns of a cleaned row (clean_row's keys, in this order): what a source publishes
ACTEUR_COLUMNS = SOURCE_COLUMNS


@dataclass
class Rejection:
    field: str
    reason: str


@dataclass
class RowStats:
    invalid: dict = field(default_factory=dict)

    def note(self, name: str) -> None:
        self.invalid[name] = self.invalid.get(name, 0) + 1


def clean_row(raw: dict, cfg, stats: RowStats | None = None) -> tuple[dict | None, Rejection | None]:
    """One raw data-fair row -> (acteur-shaped dict, None) or (None, Rejection)."""
    cols = cfg.columns

    def get(name):
        col = cols.get(name)
        return raw.get(col) if col else None

    ext = clean_text(raw.get(cfg.id_column))
    if not ext:
        return None, Rejection(cfg.id_column, f"empty identifier (column {cfg.id_column!r})")
    nom = clean_text(get("nom"))
    nom_commercial = clean_text(get("nom_commercial"))
    if not nom:
        nom = nom_commercial
    if not nom:
        names = " / ".join(repr(cols[k]) for k in ("nom", "nom_commercial") if cols.get(k))
        return None, Rejection(cols.get("nom", "nom"), f"empty name (column {names})")

    acteur_type, label = cfg.acteur_type_for(get("acteur_type"))
    if not acteur_type:
        return None, Rejection(cols.get("acteur_type", "acteur_type"), f"unknown actor type label {label!r}")

    if cols.get("adresse_ban"):
        adresse, code_postal, ville = split_adresse_ban(get("adresse_ban"))
    else:
        adresse, code_postal, ville = "", "", ""
    if cols.get("adresse"):
        adresse = _join_parts(clean_text(get("adresse"))) or adresse
    if cols.get("code_postal"):
        code_postal = clean_code_postal(get("code_postal")) or code_postal
    if cols.get("ville"):
        ville = clean_ville(get("ville")) or ville

    lat, lon = clean_coordinates(get("latitude"), get("longitude"))
    if lat is None and cfg.geopoint_fallback:
        lat, lon = clean_coordinates(*parse_geopoint(raw.get("_geopoint")))

    raw_siret = get("siret")
    siret = clean_siret(raw_siret)
    siren = clean_siren(get("siren"), siret)
    telephone = clean_telephone(get("telephone"))
    if stats is not None:
        if clean_text(raw_siret) and not siret:
            stats.note("siret")
        if clean_text(get("telephone")) and not telephone:
            stats.note("telephone")
        if lat is None and (clean_text(get("latitude")) or clean_text(raw.get("_geopoint"))):
            stats.note("coordinates")

    return {
        "identifiant_unique": identifiant_unique(cfg.code, ext),
        "identifiant_externe": ext,
        "source": cfg.code,
        "acteur_type": acteur_type,
        "nom": nom,
        "nom_commercial": nom_commercial,
        "siren": siren,
        "siret": siret,
        "adresse": adresse,
        "adresse_complement": clean_text(get("adresse_complement")),
        "code_postal": code_postal,
        "ville": ville,
        "latitude": lat,
        "longitude": lon,
        "telephone": telephone,
        "email": clean_email(get("email")),
        "url": clean_url(get("url")),
    }, None
