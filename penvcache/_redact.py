"""Credentials in URLs: hidden wherever penvcache prints or stores a URL, as uv and pip hide them.

``https://user:secret@host/simple`` becomes ``https://user:****@host/simple`` and a token given as the user
(``https://ghp_xxx@host/``) becomes ``https://****@host/``: the password, or a lone user name, is replaced by
``****`` (pip's ``redact_auth_from_url``). The key is built from the redacted text too, so rotating a token
is not a miss. Plain string scanning, no :mod:`re`: ``run`` writes a redacted command line on every hit.
"""

from __future__ import annotations

MASK = "****"
_AUTHORITY_END = "/?#\\ \t\r\n\"'<>"


def redact(text: str) -> str:
    """``text`` with the credentials of every ``scheme://user:password@host`` in it replaced by ``****``."""
    if "@" not in text or "://" not in text:
        return text
    out: list[str] = []
    start = 0
    while True:
        sep = text.find("://", start)
        if sep < 0:
            break
        begin = sep + 3
        end = begin
        while end < len(text) and text[end] not in _AUTHORITY_END:
            end += 1
        at = text.rfind("@", begin, end)
        if at < 0:
            out.append(text[start:end])
        else:
            user, colon, _ = text[begin:at].partition(":")
            masked = f"{user}:{MASK}" if colon else MASK
            out.append(f"{text[start:begin]}{masked}{text[at:end]}")
        start = end
        if start >= len(text):
            break
    out.append(text[start:])
    return "".join(out)
