"""`POST /api/match`: the real-time "is this actor already known?" check for other services.

- Authentication: `Authorization: Bearer <token>`; the tokens are those of the environment variable
  DP_API_TOKENS (comma-separated; `name:token` names a client). No header (or not a Bearer one): 401 with
  `WWW-Authenticate: Bearer`; an unknown token: 403. Compared in constant time, stored nowhere (the rate-limit
  rows key on the token's sha256).
- Rate limit: DP_API_RATE_LIMIT requests (default 60) per token per fixed window of DP_API_RATE_WINDOW seconds
  (default 60), counted in PostgreSQL (`api_rate_window`, one atomic upsert per request: every worker process
  sees one count); beyond: 429 with `Retry-After` (seconds to the next window).
- CSRF-exempt (a service has no session), but never without a token.
- Body: a JSON object `{"records": [{...}, ...]}` or `{"record": {...}}`, optionally `threshold` (a probability),
  `top_k` (1–50) and `model` (a saved model id, `latest`, `default`); at most DP_API_MAX_RECORDS records
  (default 1000). Invalid: 400 `{"errors": [{"record", "field", "reason"}]}`.
- Answer: the JSON of `data-platform match` (data_platform.match.search.match_records).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

OPTIONS = {"records", "record", "threshold", "top_k", "model"}
MAX_TOP_K = 50

_UPSERT = """
insert into api_rate_window (token_key, window_start, requests) values (%s, %s, 1)
on conflict (token_key, window_start) do update set requests = api_rate_window.requests + 1
returning requests
"""


def _tokens() -> dict[str, str]:
    """{token: client name} from DP_API_TOKENS."""
    out = {}
    for item in os.environ.get("DP_API_TOKENS", "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, token = item.partition(":")
        out[token if sep else name] = name if sep else f"token {len(out) + 1}"
    return out


def _error(status: int, reason: str, field: str = "", headers: dict | None = None) -> JsonResponse:
    response = JsonResponse({"errors": [{"record": None, "field": field, "reason": reason}]}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def authenticate(request) -> tuple[str | None, JsonResponse | None]:
    """(token, None) or (None, the 401/403 response)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, _error(401, "jeton manquant : en-tête « Authorization: Bearer <jeton> » requis",
                            "Authorization", {"WWW-Authenticate": 'Bearer realm="api"'})
    token = token.strip()
    known = _tokens()
    if not any(hmac.compare_digest(token.encode(), t.encode()) for t in known):
        return None, _error(403, "jeton inconnu", "Authorization")
    return token, None


def rate_limited(token: str) -> JsonResponse | None:
    """None when the request is within the token's window, else the 429 response."""
    limit = int(os.environ.get("DP_API_RATE_LIMIT", "60"))
    window = max(1, int(os.environ.get("DP_API_RATE_WINDOW", "60")))
    now = time.time()
    start = int(now // window) * window
    key = hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cur:
        cur.execute(_UPSERT, [key, start])
        count = cur.fetchone()[0]
        if count == 1:  # first request of a new window: the token's old windows are done with
            cur.execute("delete from api_rate_window where token_key = %s and window_start < %s", [key, start])
    if count > limit:
        retry = max(1, int(start + window - now + 0.999))
        return _error(429, f"trop de requêtes : {limit} par {window} s pour ce jeton", "",
                      {"Retry-After": str(retry)})
    return None


def parse_body(request):
    """(payload dict, options dict, None) or (None, None, the 400 response)."""
    from data_platform.match.search import DEFAULT_THRESHOLD, DEFAULT_TOP_K

    try:
        body = json.loads(request.body or b"")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, None, _error(400, f"corps JSON invalide : {exc}", "body")
    if not isinstance(body, dict):
        return None, None, _error(400, "un objet JSON est attendu ({\"records\": [...]} ou {\"record\": {...}})",
                                  "body")
    unknown = sorted(set(body) - OPTIONS)
    if unknown:
        return None, None, _error(400, "champ inconnu ; attendus : " + ", ".join(sorted(OPTIONS)), unknown[0])
    if ("records" in body) == ("record" in body):
        return None, None, _error(400, "donner soit « records » (une liste), soit « record » (un objet)", "records")
    if "records" in body and not isinstance(body["records"], list):
        return None, None, _error(400, "une liste d'objets est attendue", "records")
    if "record" in body and not isinstance(body["record"], dict):
        return None, None, _error(400, "un objet est attendu", "record")
    records = body["records"] if "records" in body else [body["record"]]
    max_records = int(os.environ.get("DP_API_MAX_RECORDS", "1000"))
    if len(records) > max_records:
        return None, None, _error(400, f"{len(records)} enregistrements : au plus {max_records} par requête",
                                  "records")
    threshold = body.get("threshold", DEFAULT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        return None, None, _error(400, "une probabilité dans [0, 1] est attendue", "threshold")
    top_k = body.get("top_k", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        return None, None, _error(400, f"un entier dans [1, {MAX_TOP_K}] est attendu", "top_k")
    model = body.get("model", "latest")
    if not isinstance(model, (str, int)) or isinstance(model, bool) or not (
            str(model) in ("latest", "default") or str(model).isdigit()):
        return None, None, _error(400, "un identifiant de modèle, « latest » ou « default » est attendu", "model")
    return records, {"threshold": float(threshold), "top_k": top_k, "model_ref": str(model)}, None


@csrf_exempt
@require_POST
def match(request):
    token, refused = authenticate(request)
    if refused is not None:
        return refused
    limited = rate_limited(token)
    if limited is not None:
        return limited
    records_json, options, invalid = parse_body(request)
    if invalid is not None:
        return invalid
    from data_platform.db.connection import connect
    from data_platform.match import records
    from data_platform.match.search import IndexMissing, match_records

    frame, errors = records.from_json(records_json)
    if errors:
        return JsonResponse({"errors": [e.as_dict() for e in errors]}, status=400,
                            json_dumps_params={"ensure_ascii": False})
    try:
        with connect() as conn:
            answer = match_records(conn, frame, **options)
    except IndexMissing as exc:
        return _error(503, str(exc))
    except LookupError as exc:
        return _error(400, str(exc), "model")
    return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})
