"""Requests refused at the edge, before any view or database query sees them.

`RejectNulMiddleware`: a NUL character (%00) in the path, a query-string or form key or value gets a 400
naming the parameter. PostgreSQL text cannot hold NUL (psycopg raises "A string literal cannot contain
NUL"), so without this an admin filter such as `?departement=a%00` ended as a 500.
"""
from __future__ import annotations

from django.http import HttpResponseBadRequest

NUL = "\x00"


def _nul_parameter(request) -> str | None:
    """The name of the first parameter holding a NUL (or 'path'), None when there is none."""
    if NUL in request.path:
        return "path"
    sources = [request.GET]
    if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",
                                                             "multipart/form-data"):
        sources.append(request.POST)
    for params in sources:
        for key, values in params.lists():
            if NUL in key or any(NUL in v for v in values if isinstance(v, str)):
                return key.replace(NUL, "\\x00")
    return None


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = _nul_parameter(request)
        if name is not None:
            return HttpResponseBadRequest(f"Bad request: parameter {name!r} contains a NUL character (%00).",
                                          content_type="text/plain; charset=utf-8")
        return self.get_response(request)
