"""A local data-fair look-alike serving deterministic synthetic datasets (tests, demo, benchmark).

    data-platform replay-server --port 8765 --rows 5000
    data-platform ingest --base-url http://127.0.0.1:8765/data-fair/api/v1

Endpoints (under /data-fair/api/v1): /datasets/{id}, /datasets/{id}/schema, /datasets/{id}/lines
(`size`, `select`, `<column>_eq` filters, `after` cursor; `next` in the body and a `Link` header,
present only on full pages, so the last page may be empty; `total` only on the first page;
If-Modified-Since -> 304). POST /_replay/control {"version": n, "faults": {...}} changes the state.

Faults (`server.faults`, applied to /lines pages from `from_page` on, default 1 = the second page):
  "429": n          the next n page requests answer 429 with Retry-After
  "500": n          the next n page requests answer 500
  "truncate": n     the next n page requests answer a truncated JSON body
  "slow": seconds   page requests sleep that long first (client timeouts); "slow_count": n of them
  "fail_page": k    page k (0-based) always answers 500 (a feed broken mid-stream)
  "rename": {old: new}  a column renamed in the schema and the rows (schema change)
  "drop_half": true the feed suddenly lost half of its rows
  "link_only": true `next` only in the Link header, not in the body
  "bom": true       CSV pages (format=csv) start with a UTF-8 byte order mark
  "rewind": hours   every published date (finalizedAt, dataUpdatedAt, Last-Modified and the clock that
                    answers If-Modified-Since) moves that many hours back (a restored old publication)
  "lie_304": true   the first /lines page answers 304 whatever the request (with or without
                    If-Modified-Since): a 304 the metadata contradicts
  "bare_metadata": true  the metadata publishes neither finalizedAt nor count (only dataUpdatedAt)
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from data_platform.ingest import synthetic

API_PREFIX = "/data-fair/api/v1"
RETRY_AFTER = "1"


class ReplayState:
    def __init__(self, rows: int | dict = 5000, seed: int = 42):
        self.sizes = rows if isinstance(rows, dict) else synthetic.split_rows(rows)
        self.seed = seed
        self.version = 0
        self.faults: dict = {}
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self._index_cache: dict = {}
        self._published_key = (0, False, ())
        self._publication = 0

    # -- dataset content ----------------------------------------------------------------------------
    def publication(self) -> int:
        """Grows whenever what the datasets publish changes (drives finalizedAt / dataUpdatedAt)."""
        key = (self.version, bool(self.faults.get("drop_half")), tuple(sorted((self.faults.get("rename") or {}).items())))
        with self.lock:
            if key != self._published_key:
                self._published_key = key
                self._publication += 1
            return self._publication

    def updated_at(self) -> dt.datetime:
        rewind = float(self.faults.get("rewind") or 0)
        return dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC) + dt.timedelta(hours=self.publication() - rewind)

    def indices(self, dataset: str, filters: dict[str, str]) -> list[tuple[int, int]]:
        """(row index, year) of the rows the dataset holds now, in publication order."""
        key = (dataset, self.version, bool(self.faults.get("drop_half")), tuple(sorted(filters.items())))
        with self.lock:
            cached = self._index_cache.get(key)
        if cached is not None:
            return cached
        import random

        n = self.sizes[dataset]
        total = n + (n // 50 if self.version else 0)  # later versions add 2% new rows
        years = synthetic.SINOE_YEARS if dataset.startswith("sinoe") else (0,)
        wanted_year = filters.get("ANNEE")
        out = []
        for year in years:
            if wanted_year is not None and str(year) != wanted_year:
                continue
            for i in range(total):
                if self.version and random.Random(f"{self.seed}:{dataset}:{i}").random() < 0.02:
                    continue  # vanished
                if self.faults.get("drop_half") and i % 2:
                    continue
                out.append((i, year))
        with self.lock:
            self._index_cache[key] = out
        return out

    def row(self, dataset: str, i: int, year: int) -> dict:
        r = synthetic.row(self.seed, dataset, i, self.version, year)
        for old, new in (self.faults.get("rename") or {}).items():
            if old in r:
                r[new] = r.pop(old)
        return r

    def schema(self, dataset: str) -> list[dict]:
        cols = synthetic.schema(dataset)
        renames = self.faults.get("rename") or {}
        return [{**c, "key": renames.get(c["key"], c["key"])} for c in cols]

    def take_fault(self, name: str) -> bool:
        with self.lock:
            left = int(self.faults.get(name) or 0)
            if left > 0:
                self.faults[name] = left - 1
                return True
        return False


class Handler(BaseHTTPRequestHandler):
    server_version = "replay-data-fair/1.0"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> ReplayState:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, format, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), headers)

    def do_POST(self):
        if self.path.rstrip("/") != "/_replay/control":
            return self._json({"error": "not found"}, 404)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.state.lock:
            if "version" in body:
                self.state.version = int(body["version"])
            if "faults" in body:
                self.state.faults = dict(body["faults"])
        return self._json({"version": self.state.version, "faults": self.state.faults})

    def do_GET(self):
        parts = urlsplit(self.path)
        self.state.requests.append(self.path)
        path = unquote(parts.path)
        if not path.startswith(API_PREFIX + "/datasets/"):
            return self._json({"error": "not found"}, 404)
        rest = path[len(API_PREFIX + "/datasets/"):]
        dataset, _, action = rest.partition("/")
        if dataset not in self.state.sizes:
            return self._json({"error": f"dataset {dataset} not found"}, 404)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if action == "":
            return self._metadata(dataset)
        if action == "schema":
            return self._json(self.state.schema(dataset))
        if action == "lines":
            return self._lines(dataset, query)
        return self._json({"error": "not found"}, 404)

    def _metadata(self, dataset: str) -> None:
        state = self.state
        stamp = state.updated_at().isoformat().replace("+00:00", "Z")
        count = len(state.indices(dataset, {}))
        meta = {"id": dataset, "title": dataset, "finalizedAt": stamp, "dataUpdatedAt": stamp,
                "updatedAt": stamp, "count": count}
        if state.faults.get("bare_metadata"):
            del meta["finalizedAt"], meta["count"]
        self._json(meta)

    def _lines(self, dataset: str, query: dict) -> None:
        state = self.state
        size = max(0, min(int(query.get("size", "12")), 10000))
        after = int(query.get("after", "0") or 0)
        page_no = after // size if size else 0
        faults = state.faults
        ims = self.headers.get("If-Modified-Since")
        if faults.get("lie_304") and "after" not in query:
            return self._send(304)
        if ims and "after" not in query:
            try:
                if state.updated_at() <= parsedate_to_datetime(ims):
                    return self._send(304)
            except (TypeError, ValueError):
                pass
        if page_no >= int(faults.get("from_page", 1)):
            if faults.get("slow") and state.take_fault("slow_count"):
                time.sleep(float(faults["slow"]))
            if state.take_fault("429"):
                return self._json({"error": "rate limited"}, 429, {"Retry-After": RETRY_AFTER})
            if state.take_fault("500"):
                return self._json({"error": "internal error"}, 500)
            if faults.get("fail_page") is not None and page_no == int(faults["fail_page"]):
                return self._json({"error": "internal error"}, 500)
        filters = {k[:-3]: v for k, v in query.items() if k.endswith("_eq")}
        columns = {c["key"] for c in state.schema(dataset)}
        select = [c for c in query.get("select", "").split(",") if c]
        unknown = [c for c in select + list(filters) if c not in columns]
        if unknown:
            return self._json({"error": f"unknown column(s) {unknown}"}, 400)
        idx = state.indices(dataset, filters)
        chunk = idx[after:after + size]
        results = []
        for i, year in chunk:
            r = state.row(dataset, i, year)
            results.append({k: r.get(k) for k in select} if select else r)
        body: dict = {}
        if "after" not in query:
            body["total"] = len(idx)
        headers = {}
        if size and len(chunk) == size:  # `next` only on full pages: the last page may be empty
            q = {k: v for k, v in query.items()}
            q["after"] = str(after + size)
            host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
            next_url = f"http://{host}{API_PREFIX}/datasets/{quote(dataset, safe='()')}/lines?{urlencode(q)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
            if not faults.get("link_only"):
                body["next"] = next_url
        body["results"] = results
        if query.get("format") == "csv":
            # data-fair's CSV pages: a header line, pages linked by the Link header only
            keys = select or [c["key"] for c in state.schema(dataset)]
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(keys)
            for r in results:
                writer.writerow(["" if r.get(k) is None else r.get(k) for k in keys])
            text = ("\ufeff" if faults.get("bom") else "") + buf.getvalue()
            headers["Last-Modified"] = formatdate(state.updated_at().timestamp(), usegmt=True)
            return self._send(200, text.encode("utf-8"), headers, content_type="text/csv; charset=utf-8")
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if page_no >= int(faults.get("from_page", 1)) and state.take_fault("truncate"):
            payload = payload[: max(1, len(payload) // 2)]
        headers["Last-Modified"] = formatdate(state.updated_at().timestamp(), usegmt=True)
        self._send(200, payload, headers)


class ReplayServer:
    """The replay server in a background thread (tests) or the foreground (`serve_forever`)."""

    def __init__(self, rows: int | dict = 5000, seed: int = 42, host: str = "127.0.0.1", port: int = 0):
        self.state = ReplayState(rows, seed)
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def faults(self) -> dict:
        return self.state.faults

    def set_faults(self, **faults) -> None:
        self.state.faults = dict(faults)

    def set_version(self, version: int) -> None:
        self.state.version = version

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _parse_fault(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    if name == "rename":
        old, _, new = value.partition(":")
        return name, {old: new}
    if value == "":
        return name, True
    try:
        return name, int(value)
    except ValueError:
        return name, float(value)


def run(args) -> int:
    server = ReplayServer(rows=args.rows, seed=getattr(args, "seed", 42), port=args.port)
    server.set_version(getattr(args, "version", 0) or 0)
    server.set_faults(**dict(_parse_fault(f) for f in (getattr(args, "fault", None) or [])))
    print(f"replay server on {server.base_url} ({sum(server.state.sizes.values())} rows, "
          f"datasets: {', '.join(server.state.sizes)})", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0
