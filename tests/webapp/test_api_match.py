"""POST /api/match on real PostgreSQL: token required (401/403), rate limit (429 + Retry-After), body validation
(400 naming the field), and the CLI's answer."""
from __future__ import annotations

import json

import pytest

from tests.match.conftest import known  # noqa: F401 - the fixture (known actors + match index)

TOKEN = "s3cret-token"


@pytest.fixture
def api(db, monkeypatch):
    monkeypatch.setenv("DP_API_TOKENS", f"crm:{TOKEN},other-token")
    monkeypatch.setenv("DP_API_RATE_LIMIT", "3")
    monkeypatch.setenv("DP_API_RATE_WINDOW", "3600")
    with db.cursor() as cur:
        cur.execute("truncate api_rate_window")
    db.commit()
    from django.test import Client

    def post(body, token=TOKEN, raw=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
        data = raw if raw is not None else json.dumps(body)
        return Client(enforce_csrf_checks=True).post("/api/match", data=data, content_type="application/json",
                                                      **headers)

    return post


RECORD = {"nom": "Resourcerie du Centre", "adresse": "12 rue de la Paix", "code_postal": "75002", "ville": "Paris"}


def test_answers_like_the_cli_without_csrf(api, known):  # noqa: F811
    from data_platform.match import records, search

    r = api({"records": [RECORD], "top_k": 3})
    assert r.status_code == 200, r.content
    body = r.json()
    assert [m["identifiant_unique"] for m in body["results"][0]["matches"]] == ["ecosystem_e1"]
    frame, _ = records.from_json([RECORD])
    expected = search.match_records(known, frame, top_k=3)
    assert body["results"] == expected["results"] and body["threshold"] == search.DEFAULT_THRESHOLD
    assert api({"record": RECORD, "threshold": 1.0}).json()["results"][0]["matches"] == []


def test_token_required(api, db):
    r = api({"record": RECORD}, token=None)
    assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Bearer")
    assert r.json()["errors"][0]["field"] == "Authorization"
    assert api({"record": RECORD}, token="wrong").status_code == 403
    from django.test import Client

    basic = Client().post("/api/match", data="{}", content_type="application/json",
                          HTTP_AUTHORIZATION="Basic abc")
    assert basic.status_code == 401
    assert Client().get("/api/match", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_rate_limited_per_token(api, db):
    bad = {"record": {"nom": 1.5}}  # counted even when invalid: the limit protects the server, not the answer
    assert [api(bad).status_code for _ in range(3)] == [400, 400, 400]
    r = api(bad)
    assert r.status_code == 429 and 1 <= int(r["Retry-After"]) <= 3600
    assert api(bad, token="other-token").status_code == 400  # another token has its own window
    with db.cursor() as cur:
        cur.execute("select count(*), max(requests) from api_rate_window")
        assert cur.fetchone() == (2, 4)


@pytest.mark.parametrize("body, field", [
    ({"records": "x"}, "records"),
    ({}, "records"),
    ({"record": RECORD, "records": [RECORD]}, "records"),
    ({"record": RECORD, "colour": 1}, "colour"),
    ({"record": RECORD, "threshold": 2}, "threshold"),
    ({"record": RECORD, "top_k": 0}, "top_k"),
    ({"record": RECORD, "model": "rules"}, "model"),
    ({"record": {"nom": "x", "latitude": 200}}, "latitude"),
    ({"records": [RECORD, {"siret": ["1"]}]}, "siret"),
])
def test_invalid_bodies_say_which_field_and_why(api, body, field):
    r = api(body)
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert field in [e["field"] for e in errors] and all(e["reason"] for e in errors)


def test_not_json(api):
    r = api(None, raw="{nom")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
