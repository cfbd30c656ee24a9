"""HTTP(S) base URLs given as inputs: checked once, so a bad one is a clear input error, not a crash
deep inside an HTTP client (``http.client`` refuses non-ASCII and white space with a UnicodeError)."""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = ["http_url"]


def http_url(value: str, what: str) -> str:
    """``value`` without a trailing slash, when it is an http(s) URL of printable ASCII with a host;
    ConfigError naming ``what`` (e.g. "input `endpoint`") otherwise."""
    text = value.strip()
    if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
        raise ConfigError(f"{what}: {text!r} holds white space, control or non-ASCII characters",
                          hint="percent-encode them, e.g. http://host:8080/my%20path")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parses the port, raising ValueError when it is not a number
    except ValueError as exc:
        raise ConfigError(f"{what}: {text!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {text!r} is not an http(s) URL with a host", hint="e.g. http://127.0.0.1:8080")
    return text.rstrip("/")
