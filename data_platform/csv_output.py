"""Writing CSV files that people open in a spreadsheet (issue 13 item 7: formula injection).

A cell that starts with `= + - @`, a tab or a carriage return is run as a formula by Excel, LibreOffice and
Google Sheets (`=HYPERLINK("http://…","clic")`, `@SUM(…)`, `-2+3`): `escape_formula` prefixes such a text
with a single quote, which the spreadsheet shows as text (OWASP's "CSV injection" advice). A plain number
(`-1.55`, `+33`, `-4,85`) is left alone, it stays a number.

`write_csv(path, header, rows)` is the one writer of user-facing CSV files (dedupe-csv's output): every cell
escaped, written to a temporary file in the target's folder and renamed over it (no half-written output).
Not escaped, on purpose: COPY input (`db.connection.rows_csv`/`frame_csv`, read by PostgreSQL, not by a
person), the generator's `--out` file (synthetic values, and the input of load-csv: a quote would become data)
and the replay server's pages (they imitate a data-fair portal for ingestion).
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def escape_formula(value):
    """`value` with a leading "'" when a spreadsheet would read it as a formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def escape_row(row: Iterable) -> list:
    return [escape_formula(v) for v in row]


def write_csv(path: str | Path, header: list[str], rows: Iterable[Iterable]) -> None:
    """Write header + rows (escaped) to `path` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(escape_row(header))
            writer.writerows(escape_row(r) for r in rows)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
