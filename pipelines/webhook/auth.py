"""Who may post events: the klink signature, Basic auth, or a custom header (klink-api.md §10.1-10.2).

klink's webhook settings offer three ways to authenticate a delivery; the receiver can require any
combination of them (all configured methods must pass):

* ``signature`` (klink's default, recommended): ``x-signature`` is the lowercase hex HMAC-SHA256 of
  the raw request body under the webhook's signing secret. The older docs say the signature is
  "included in the authorization header", so ``Authorization: <hex>`` (optionally prefixed with a
  scheme such as ``HMAC-SHA256``/``Bearer``/``sha256=``) is accepted as well.
* ``basic``: ``Authorization: Basic base64(user:password)``.
* ``header``: a custom header name and value set on the klink settings page.

Every comparison is constant-time (`hmac.compare_digest`). Secrets live only in this object and are
never part of its repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Tuple

METHODS = ("signature", "basic", "header")
SIGNATURE_HEADER = "x-signature"
_SCHEMES = ("hmac-sha256 ", "bearer ", "signature ", "sha256=")


def sign(secret: str, body: bytes) -> str:
    """The signature klink sends for `body`: hex HMAC-SHA256 under `secret`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _strip_scheme(value: str) -> str:
    value = value.strip()
    lowered = value.lower()
    for scheme in _SCHEMES:
        if lowered.startswith(scheme):
            return value[len(scheme):].strip()
    return value


@dataclass(frozen=True)
class Authenticator:
    """Checks one request against every configured method; `check` -> (ok, method or reason)."""

    methods: Tuple[str, ...] = ("signature",)
    secret: Optional[str] = field(default=None, repr=False)
    basic_username: Optional[str] = field(default=None, repr=False)
    basic_password: Optional[str] = field(default=None, repr=False)
    header_name: str = "x-klink-token"
    header_value: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("at least one webhook auth method is required (signature, basic, header)")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown webhook auth method(s) {unknown}; choose from {list(METHODS)}")
        missing = []
        if "signature" in self.methods and not self.secret:
            missing.append("sources.klink.webhook_secret (env SOURCES__KLINK__WEBHOOK_SECRET)")
        if "basic" in self.methods and not (self.basic_username and self.basic_password):
            missing.append("sources.klink.webhook_basic_username / webhook_basic_password")
        if "header" in self.methods and not (self.header_name and self.header_value):
            missing.append("sources.klink.webhook_header_name / webhook_header_value")
        if missing:
            raise ValueError("webhook auth is not configured: set " + "; ".join(missing))

    @property
    def label(self) -> str:
        """What `signature_method` records for an accepted event, e.g. "signature" or "signature+basic"."""
        return "+".join(self.methods)

    def check(self, headers: Mapping[str, str], body: bytes) -> Tuple[bool, str]:
        """(True, label) when every method passes, else (False, the first failing reason)."""
        for method in self.methods:
            reason = getattr(self, f"_check_{method}")(headers, body)
            if reason:
                return False, reason
        return True, self.label

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> str:
        expected = sign(self.secret or "", body).encode()
        candidates = [headers.get(SIGNATURE_HEADER)]
        if "basic" not in self.methods:  # Authorization carries the Basic credentials otherwise
            candidates.append(headers.get("authorization"))
        given = [_strip_scheme(c).lower().encode() for c in candidates if c]
        if not given:
            return "missing signature"
        ok = False
        for candidate in given:  # no early exit: the timing does not tell which header matched
            ok |= hmac.compare_digest(candidate, expected)
        return "" if ok else "bad signature"

    def _check_basic(self, headers: Mapping[str, str], body: bytes) -> str:
        value = headers.get("authorization") or ""
        if not value.lower().startswith("basic "):
            return "missing basic credentials"
        try:
            decoded = base64.b64decode(value[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return "bad basic credentials"
        user, _, password = decoded.partition(b":")
        ok_user = hmac.compare_digest(user, (self.basic_username or "").encode())
        ok_pass = hmac.compare_digest(password, (self.basic_password or "").encode())
        return "" if ok_user and ok_pass else "bad basic credentials"

    def _check_header(self, headers: Mapping[str, str], body: bytes) -> str:
        value = headers.get(self.header_name.lower())
        if value is None:
            return f"missing header {self.header_name}"
        ok = hmac.compare_digest(value.strip().encode(), (self.header_value or "").encode())
        return "" if ok else f"bad header {self.header_name}"


def parse_methods(value: Optional[str | Sequence[str]]) -> Tuple[str, ...]:
    """"signature,basic" or a list -> ("signature", "basic"); empty -> ("signature",)."""
    if not value:
        return ("signature",)
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(m.strip().lower() for m in items if m and m.strip()))
