"""The data-fair client against the replay server: paging, retries, timeouts, 304."""
from __future__ import annotations

import pytest

from data_platform.ingest.client import DataFairClient, DataFairError, NotModified, RetryPolicy, http_date

DS = "donnees-eo-refashion"


def _client(replay, **kw):
    policy = RetryPolicy(attempts=kw.pop("attempts", 4), base_delay=0.001, max_delay=0.01, seed=0,
                         read_timeout=kw.pop("read_timeout", 5))
    return DataFairClient(replay.base_url, policy=policy)


def _ids(pages):
    return [r["id_point_apport_ou_reparation"] for p in pages for r in p.results]


def test_metadata_and_schema(replay):
    client = _client(replay)
    meta = client.dataset(DS)
    assert meta["count"] == 45 and meta["finalizedAt"] and meta["dataUpdatedAt"]
    keys = [c["key"] for c in client.schema(DS)]
    assert "adresse_format_ban" in keys and "_geopoint" in keys


def test_pages_follow_next_until_absent_last_page_empty(replay):
    pages = list(_client(replay).iter_pages(DS, select=["id_point_apport_ou_reparation"], size=15))
    # 45 rows in pages of 15: three full pages (each with `next`), then an empty last page
    assert [len(p.results) for p in pages] == [15, 15, 15, 0]
    assert pages[0].total == 45 and all(p.total is None for p in pages[1:])
    assert pages[-1].next_url is None
    assert len(set(_ids(pages))) == 45
    assert all("after=" in r for r in replay.state.requests[1:])  # cursor, never a page number
    assert not any("page=" in r for r in replay.state.requests)


def test_link_header_only(replay):
    replay.set_faults(link_only=True)
    pages = list(_client(replay).iter_pages(DS, size=20))
    assert [len(p.results) for p in pages] == [20, 20, 5]


def test_filters_are_sent(replay):
    client = _client(replay)
    from data_platform.ingest.synthetic import SINOE_YEARS

    pages = list(client.iter_pages("sinoe-(r)-annuaire-des-decheteries-dma", filters={"ANNEE_eq": str(SINOE_YEARS[0])},
                                   size=100))
    rows = [r for p in pages for r in p.results]
    assert len(rows) == 25 and {r["ANNEE"] for r in rows} == {SINOE_YEARS[0]}


@pytest.mark.parametrize("fault", [{"429": 2}, {"500": 3}, {"truncate": 2}])
def test_transient_faults_are_retried(replay, fault):
    replay.set_faults(**fault)
    client = _client(replay)
    pages = list(client.iter_pages(DS, size=10))
    assert len(set(_ids(pages))) == 45
    assert client.retries == next(iter(fault.values()))


def test_timeout_is_retried(replay):
    replay.set_faults(slow=0.6, slow_count=1)
    client = _client(replay, read_timeout=0.2)
    assert len(set(_ids(client.iter_pages(DS, size=10)))) == 45
    assert client.retries == 1


def test_persistent_failure_raises_clearly(replay):
    replay.set_faults(fail_page=2)
    with pytest.raises(DataFairError, match=r"failed after 3 attempts: HTTP 500"):
        list(_client(replay, attempts=3).iter_pages(DS, size=10))


def test_retry_after_is_honoured_and_backoff_deterministic():
    a, b = RetryPolicy(seed=1), RetryPolicy(seed=1)
    waits = [a.delay(i) for i in range(4)]
    assert waits == [b.delay(i) for i in range(4)]
    assert all(1 * 2 ** i <= w <= 1.5 * 2 ** i for i, w in enumerate(waits))
    assert RetryPolicy(seed=1).delay(0, retry_after=30) == 30
    assert RetryPolicy(seed=1, max_delay=60).delay(10) == 60


def test_if_modified_since_304(replay):
    client = _client(replay)
    meta = client.dataset(DS)
    with pytest.raises(NotModified):
        list(client.iter_pages(DS, if_modified_since=http_date(meta["dataUpdatedAt"])))
    replay.set_version(1)
    assert sum(len(p.results) for p in client.iter_pages(DS, if_modified_since=http_date(meta["dataUpdatedAt"]))) > 0


def test_csv_pages_with_bom(replay):
    replay.set_faults(bom=True)
    client = _client(replay)
    select = ["id_point_apport_ou_reparation", "nom_de_lorganisme", "latitudewgs84"]
    csv_pages = list(client.iter_pages(DS, select=select, size=20, fmt="csv"))
    json_pages = list(client.iter_pages(DS, select=select, size=20))
    assert [len(p.results) for p in csv_pages] == [20, 20, 5]
    assert list(csv_pages[0].results[0]) == select  # the BOM did not stick to the first column
    as_text = [{k: "" if v is None else str(v) for k, v in r.items()} for p in json_pages for r in p.results]
    assert [r for p in csv_pages for r in p.results] == as_text
