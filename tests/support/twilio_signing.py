"""Sign inbound webhooks exactly as Twilio does, with the SDK's own RequestValidator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def sign_twilio_request(auth_token: str, url: str, params: Params | None = None) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a form POST of ``params`` to ``url``.

    ``url`` is the full public URL Twilio called (``TIPLINE_PUBLIC_URL`` + path, and query
    if any). ``params`` may repeat a name (a list of pairs or a MultiDict).
    """
    return RequestValidator(auth_token).compute_signature(url, MultiDict(params or {}))


def signed_headers(auth_token: str, url: str, params: Params | None = None) -> dict[str, str]:
    """Headers for a test client's POST: ``{"X-Twilio-Signature": …}``."""
    return {SIGNATURE_HEADER: sign_twilio_request(auth_token, url, params)}
