"""Credentials in URLs: hidden wherever penvcache prints or stores a URL, as uv and pip hide them.

``https://user:secret@host/simple`` becomes ``https://user:****@host/simple`` and a token given as the user
(``https://ghp_xxx@host/``) becomes ``https://****@host/``: the password, or a lone user name, is replaced by
``****`` (pip's ``redact_auth_from_url``). Every URL of a list is (``UV_FIND_LINKS`` is comma-separated, and
``a,b``, ``a;b``, ``a|b`` all occur): a URL's authority ends where the next ``scheme://`` begins. The key is built
from the redacted text too, so rotating a token is not a miss. Plain string scanning, no :mod:`re`: ``run``
writes a redacted command line on every hit.
"""

from __future__ import annotations

MASK = "****"
_AUTHORITY_END = frozenset("/?#\\ \t\r\n\"'<>")
_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


def redact(text: str) -> str:
    """``text`` with the credentials of every ``scheme://user:password@host`` in it replaced by ``****``."""
    if "@" not in text or "://" not in text:
        return text
    out: list[str] = []
    start = 0
    sep = text.find("://")
    while sep >= 0:
        begin = sep + 3
        nxt = text.find("://", begin)
        limit = len(text) if nxt < 0 else nxt
        if nxt >= 0:  # the next URL's scheme is not this one's authority: `https://u:p@h1,https://...`
            while limit > begin and text[limit - 1] in _SCHEME:
                limit -= 1
        end = begin
        while end < limit and text[end] not in _AUTHORITY_END:
            end += 1
        at = text.rfind("@", begin, end)
        if at < 0:
            out.append(text[start:end])
        else:  # the last "@": a password may hold one, or a "," or ";"
            user, colon, _ = text[begin:at].partition(":")
            masked = f"{user}:{MASK}" if colon else MASK
            out.append(f"{text[start:begin]}{masked}{text[at:end]}")
        start = end
        sep = nxt
    out.append(text[start:])
    return "".join(out)
