"""Secrets never leave the process in clear: one place that masks them.

`redact_url` shows a URL without its password, bare user-info token or secret query values
(redis, rediss, unix, postgresql, webhooks). `redact_text` does the same for free text that
may quote a URL or a libpq conninfo — an exception message, a log line — and works on
malformed URLs too (`postgresql://u:SECRET@[::1/db` cannot be parsed, but its user-info part
can still be found). `scrub_secrets` additionally removes a known URL's secrets wherever they
appear on their own. Sinks, sources, the runtime, the log formatter and the CLI's error
printing all use these, so a new path that shows a URL has one obvious function to call.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"
# query parameters whose values are credentials (webhook tokens, signed URLs, redis password=)
SECRET_QUERY = re.compile(r"token|key|secret|pass|auth|sig|credential|code", re.IGNORECASE)

# scheme://user-info@ — the user-info ends at the last "@" before the host part; a "/" ends
# the authority, so a path containing "@" is not mistaken for one
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^\s/?#@\"'<>]*(?:@[^\s/?#@\"'<>]*)*)@")
# ?token=… / &password=… in a URL quoted in text
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;][^=&\s\"'#]*(?:token|key|secret|pass|auth|sig|credential|code)[^=&\s\"'#]*=)[^&\s\"'#]*",
    re.IGNORECASE,
)
# libpq conninfo / DSN words: password=SECRET, password='SEC RET'
_CONNINFO_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&\"']+)", re.IGNORECASE)


def redact_url(url: str, *, keep_path: bool = True) -> str:
    """The URL with its password (or bare user-info token) and secret query values masked.

    keep_path=False also hides the path, for webhooks whose path is the secret (Slack, Discord).
    A URL that cannot be parsed is masked as a whole, except for its scheme.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://{MASK}" if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme) else MASK
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    if parts.password is not None:
        user = quote(parts.username or "", safe="")
        netloc = f"{user}:{MASK}@{netloc}"
    elif parts.username:
        netloc = f"{MASK}@{netloc}"  # a lone user-info part is usually a token
    path = parts.path if keep_path else ("/" + MASK if parts.path not in ("", "/") else parts.path)
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if (SECRET_QUERY.search(k) or not keep_path) else v) for k, v in pairs], safe="*"
        )
    if "://" in url:  # urlunsplit would turn unix:///path into unix:/path
        return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _mask_userinfo(match: re.Match[str]) -> str:
    info = match.group("info")
    user, sep, _password = info.partition(":")
    if sep:
        return f"{match.group('scheme')}{user}:{MASK}@"
    return f"{match.group('scheme')}{MASK}@"


def redact_text(text: str) -> str:
    """Free text with every URL password, user-info token, secret query value and conninfo
    `password=` masked. Pure text matching: works on URLs no parser accepts."""
    if "@" in text:
        text = _USERINFO.sub(_mask_userinfo, text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: m.group("head") + MASK, text)
        text = _CONNINFO_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return text


def url_secrets(url: str) -> list[str]:
    """The secret pieces of a URL (password, lone user-info token, secret query values), also
    for a URL that does not parse."""
    secrets: list[str] = []
    m = _USERINFO.search(url)
    if m:
        user, sep, password = m.group("info").partition(":")
        secrets.append(password if sep else user)
    try:
        secrets += [v for k, v in parse_qsl(urlsplit(url).query) if SECRET_QUERY.search(k)]
    except ValueError:
        secrets += [q.split("=", 1)[1] for q in re.split(r"[?&]", url) if "=" in q and SECRET_QUERY.search(q.split("=")[0])]
    return [s for s in secrets if s]


def scrub_secrets(text: str, url: str) -> str:
    """Remove the URL's secrets from free text (exception messages), wherever they appear."""
    if url and url in text:
        text = text.replace(url, redact_url(url))
    for secret in url_secrets(url):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
            quoted = quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, MASK)
    return redact_text(text)
