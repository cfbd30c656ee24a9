"""The one HTTP client of aicd's adapters (GitHub, Prometheus, a model server's /metrics).

A :func:`session` is a ``requests`` Session with urllib3 retries: connection errors, read timeouts
and 500/502/503/504 answers are tried again, ``attempts`` times in all, after urllib3's exponential
backoff (none before the first retry, then ``backoff * 2``, ``backoff * 4`` ... seconds), and a
``Retry-After`` header is honoured. The last answer is returned as it is (a 5xx too), so the adapter
maps it to its own error. Proxies (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) and CA bundles
(``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) come from the environment, as users of requests expect.

Redirects are for the caller to allow: a request that carries a credential is sent with
``allow_redirects=False`` by the adapters, so a token never travels to another URL.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

__all__ = ["RETRIED", "TransportError", "reason", "session"]

RETRIED = (500, 502, 503, 504)
# what a request raises when no answer came back, after the retries (connection refused, DNS,
# timeouts, a peer that does not speak HTTP, too many retries)
TransportError = requests.exceptions.RequestException


def session(attempts: int = 3, backoff: float = 0.5, methods: frozenset[str] = frozenset({"GET", "POST"})
            ) -> requests.Session:
    """A Session retrying ``methods`` as the module docstring says (POST included: every aicd call is
    idempotent or, like GitHub's dispatch, safe to repeat after a failed attempt)."""
    retries = max(0, attempts - 1)
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0, redirect=0,
                  backoff_factor=backoff, status_forcelist=RETRIED, allowed_methods=methods,
                  raise_on_status=False, respect_retry_after_header=True)
    adapter = HTTPAdapter(max_retries=retry)
    client = requests.Session()
    client.mount("http://", adapter)
    client.mount("https://", adapter)
    return client


def reason(exc: Exception) -> str:
    """The innermost reason of a transport failure, in a few words (never a URL's query or headers)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or next((a for a in exc.args if isinstance(a, Exception)), None) or \
            getattr(exc, "reason", None)
        if not isinstance(inner, Exception):
            break
        exc = inner
    return " ".join(str(getattr(exc, "strerror", None) or exc).split())[:200]
