"""A small client for the data-fair API (ADEME's portals): metadata, schema and paged lines.

Pages are followed through `next` (in the body, or a `Link: <...>; rel=next` header) until it is
absent, never by page number. Every request retries with exponential backoff and jitter on 429
(honouring Retry-After), 5xx, timeouts, connection errors and truncated JSON.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import quote

import requests

log = logging.getLogger(__name__)


class DataFairError(RuntimeError):
    """The portal could not be read (after retries) or answered something unusable."""


@dataclass
class RetryPolicy:
    attempts: int = 6              # total tries per request
    base_delay: float = 1.0        # seconds, doubled at each retry
    max_delay: float = 60.0        # cap on one wait (Retry-After included)
    jitter: float = 0.5            # each wait is multiplied by 1 + jitter * U[0, 1)
    seed: int | None = None        # fixed seed: deterministic waits (tests)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    _rng: random.Random = field(default=None, repr=False)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        wait = self.base_delay * (2 ** retry) * (1 + self.jitter * self._rng.random())
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_delay)


@dataclass
class LinesPage:
    results: list[dict]
    total: int | None
    next_url: str | None


class NotModified(Exception):
    """/lines answered 304 to If-Modified-Since."""


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _parse_csv(resp: requests.Response) -> dict:
    """A CSV page as {results: [...]} (BOM dropped, '' kept as ''), `next` from the Link header."""
    text = resp.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return {"results": rows}


def http_date(iso_timestamp: str) -> str | None:
    """ISO 8601 (as data-fair publishes dataUpdatedAt) -> an HTTP date for If-Modified-Since."""
    import datetime as dt

    try:
        stamp = dt.datetime.fromisoformat(iso_timestamp)
    except (AttributeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return formatdate(stamp.timestamp(), usegmt=True)


class DataFairClient:
    def __init__(self, base_url: str, policy: RetryPolicy | None = None, session: requests.Session | None = None,
                 api_key: str | None = None, prefetch: bool = True):
        self.base_url = base_url.rstrip("/")
        self.prefetch = prefetch
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "data-platform-ingest/1.0")
        # private datasets only: the key comes from the environment, never from a config file
        key = api_key if api_key is not None else os.environ.get("DATAFAIR_API_KEY", "")
        if key:
            self.session.headers["x-apiKey"] = key
        self.requests_made = 0
        self.retries = 0

    def dataset_url(self, dataset: str) -> str:
        return f"{self.base_url}/datasets/{quote(dataset, safe='()')}"

    # -- one request, with retries ---------------------------------------------------------------
    def _get(self, url: str, params: dict | None = None, headers: dict | None = None,
             as_csv: bool = False) -> tuple[requests.Response, object]:
        policy = self.policy
        last_error = ""
        for attempt in range(policy.attempts):
            retry_after = None
            try:
                self.requests_made += 1
                resp = self.session.get(url, params=params, headers=headers,
                                        timeout=(policy.connect_timeout, policy.read_timeout))
                if resp.status_code == 304:
                    return resp, None
                if resp.status_code == 429 or resp.status_code >= 500:
                    retry_after = _retry_after(resp)
                    last_error = f"HTTP {resp.status_code}"
                elif resp.status_code >= 400:
                    raise DataFairError(f"GET {resp.url}: HTTP {resp.status_code}: {resp.text[:300]}")
                else:
                    if as_csv:
                        return resp, _parse_csv(resp)
                    try:
                        return resp, resp.json()
                    except ValueError as exc:  # truncated or garbled body
                        last_error = f"invalid JSON ({exc})"
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < policy.attempts:
                wait = policy.delay(attempt, retry_after)
                self.retries += 1
                log.warning("GET %s failed (%s), retry %d/%d in %.2fs", url, last_error, attempt + 1,
                            policy.attempts - 1, wait)
                time.sleep(wait)
        raise DataFairError(f"GET {url} failed after {policy.attempts} attempts: {last_error}")

    # -- API --------------------------------------------------------------------------------------
    def dataset(self, dataset: str) -> dict:
        """Metadata: finalizedAt, dataUpdatedAt, count..."""
        return self._get(self.dataset_url(dataset))[1]

    def schema(self, dataset: str) -> list[dict]:
        body = self._get(self.dataset_url(dataset) + "/schema")[1]
        if not isinstance(body, list):
            raise DataFairError(f"schema of {dataset}: expected a list of columns, got {type(body).__name__}")
        return body

    def iter_pages(self, dataset: str, select: list[str] | None = None, filters: dict | None = None,
                   size: int = 10000, if_modified_since: str | None = None, fmt: str = "json") -> Iterator[LinesPage]:
        """Pages of /lines, following `next` until absent. Raises NotModified on 304 to the first page
        when if_modified_since was sent; a 304 to an unconditional request is a DataFairError.

        fmt="csv" asks for `format=csv` (pages linked by the Link header; a UTF-8 BOM is dropped;
        values are strings)."""
        as_csv = fmt == "csv"
        params = {"size": str(size)}
        if as_csv:
            params["format"] = "csv"
        if select:
            params["select"] = ",".join(select)
        params.update(filters or {})
        headers = {"If-Modified-Since": if_modified_since} if if_modified_since else None
        seen: set[str] = set()

        def fetch(url: str, first: bool) -> LinesPage:
            resp, body = self._get(url, params=params if first else None, headers=headers if first else None,
                                   as_csv=as_csv)
            if resp.status_code == 304:
                if first and headers:
                    raise NotModified(dataset)
                raise DataFairError(f"GET {resp.url}: HTTP 304 Not Modified to a request without "
                                    "If-Modified-Since (the portal contradicts itself): nothing staged")
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise DataFairError(f"GET {resp.url}: expected {{results: [...]}}, got {str(body)[:200]}")
            next_url = body.get("next") or (resp.links.get("next") or {}).get("url")
            if next_url in seen:
                raise DataFairError(f"GET {resp.url}: `next` loops back to {next_url}")
            if next_url:
                seen.add(next_url)
            total = body.get("total")
            return LinesPage(body["results"], int(total) if total is not None else None, next_url)

        page = fetch(self.dataset_url(dataset) + "/lines", True)
        if not self.prefetch:
            while True:
                yield page
                if not page.next_url:
                    return
                page = fetch(page.next_url, False)
        # the next page downloads (another thread, the GIL is released while waiting) while the
        # caller cleans and writes this one; pages still come out in order, one ahead at most
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="datafair-prefetch") as pool:
            while True:
                pending = pool.submit(fetch, page.next_url, False) if page.next_url else None
                try:
                    yield page
                except GeneratorExit:
                    if pending is not None:
                        pending.cancel()
                    raise
                if pending is None:
                    return
                page = pending.result()
