"""The one masking policy for everything a run stores that could hold a secret.

Applied, unless the run was started with ``mask_secrets=False`` / ``TRACKER_MASK_SECRETS=0``, to
the recorded command line, the config, the summary, notes, tags, alert titles and texts (also
what the alert hook receives), a failed run's error message, the uncommitted git diff and the
captured console lines. Metric names and values are never looked at: ``log()`` of numbers pays
nothing.

What is masked (the value becomes ``••••`` plus its last 4 characters when it has 16 or more):

* **by key**: a config / summary key, a ``--flag``, a Hydra/OmegaConf ``a.b=value`` argument or
  a ``key=value`` / ``key: value`` pair in text whose key looks secret (:func:`is_secret_key`:
  ``password``, ``passwd``, ``pwd``, ``secret``, ``credential(s)``, ``authorization``, ``api_key``,
  ``access_key``, ``private_key``, …, and ending in ``token``, ``pat``, ``bearer``, ``cookie``,
  ``auth``, ``pass``, ``pw``; not ``max_tokens``, ``tokenizer``, ``key_dim``, ``bypass``);
  after ``-p``, ``--pass``, ``--password``, ``--token``… the next argument;
* **by shape, anywhere in text**: ``sk-…``, ``sk_live_…``, ``ghp_…`` (``gh[pousr]_``),
  ``github_pat_…``, ``glpat-…``, ``xox[abposr]-…``, ``AKIA…``/``ASIA…`` (20 characters),
  ``hf_…``, JWTs (``eyJ….eyJ….…``), ``Bearer …``, ``Authorization: <scheme> …``, the password of
  URL userinfo (``postgres://u:PASS@h`` → ``postgres://u:••••@h``), a long user-only userinfo
  (a Sentry-style ``https://KEY@host`` DSN) and PEM private key blocks.

Limits: a secret that has none of these shapes and no secret-looking key next to it (a bare
password as a positional argument, ``mysql -pPASS``, a token printed on its own line) is not
recognised. Masking over-reaches on purpose where it cannot tell: in a diff of code,
``token = get_token()`` keeps its key and loses its value.

Text passes are one compiled regular expression each (compiled on first use, not at import).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MASK = "••••"

_SECRET_WORDS = {"password", "passwd", "passphrase", "pwd", "secret", "secrets", "credential",
                 "credentials", "apikey", "privatekey", "accesskey", "secretkey", "authtoken",
                 "authorization"}
_KEY_QUALIFIERS = {"api", "access", "private", "secret", "ssh", "signing", "encryption", "auth",
                   "client", "license", "master", "session", "account", "service", "app"}
_VENDORS = ("openai", "anthropic", "wandb", "hf", "aws", "gcp", "azure")
#: Secret only as the last word of a key: ``hf_token``, ``db_pass``, ``basic_auth`` (not
#: ``token_count``, ``pass_rate``, ``auth_enabled``).
_LAST_WORDS = {"token", "pat", "bearer", "cookie", "sessionid", "auth", "pass", "pw"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
#: Every secret-looking key holds one of these (a pre-check that skips the word split).
_FRAGMENT = re.compile("pass|pwd|pw|secret|token|key|auth|cred|cookie|pat|bearer|session")
_SPLIT = re.compile(r"[^a-z0-9]+")

#: Flags whose *next* argument is a secret (``-p X``, ``--pass X``, ``--token X``).
_SHORT_SECRET_FLAGS = {"-p"}

# A whole value that is a known token shape (config values are checked whole).
_TOKEN_SHAPES = (
    r"sk-[A-Za-z0-9_-]{16,}|sk_(?:live|test)_[A-Za-z0-9]{10,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|hf_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{16,}"
    r"|eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"
)
#: Fragments one of which a secret-looking key holds (confirmed with is_secret_key): only
#: ``key=value`` pairs whose key holds one are looked at closer, found in the lower-cased text.
_KEY_FRAGMENTS = r"(?:p(?:ass|wd|w|at)|secret|token|key|auth|credential|cookie|bearer|session)"
_KEY_VALUE = (
    _KEY_FRAGMENTS + r"[\w.-]*(?P<sep>[\"']?\s*[=:]\s*(?![=\s]))"
    r"(?:\"(?P<dq>[^\"\n]+)\"?|'(?P<sq>[^'\n]+)'?|(?P<bare>[^\s\"'&,;]+))"
)
_PATTERNS = {
    # a URL's userinfo password; a long user-only userinfo (a DSN's key)
    "url": r"\b(?P<url>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]+)|(?P<key>[A-Za-z0-9_-]{20,}))@",
    # Authorization: <scheme> value / Bearer value
    "auth": r"(?P<head>(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z]+\s+)?|\b(?i:bearer)\s+)"
            r"(?P<v>[A-Za-z0-9._~+/-]{6,}=*)",
    "kv": _KEY_VALUE,
    "kv_i": "(?i)" + _KEY_VALUE,  # for text whose lower-case form has another length
    "tok_hint": _TOKEN_SHAPES,  # no look-behind: lets the engine skip ahead fast
    "tok": rf"(?<![A-Za-z0-9_-])(?:{_TOKEN_SHAPES})(?![A-Za-z0-9_-])",
    "whole": rf"(?:{_TOKEN_SHAPES})\Z|-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "pem": r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
}
_compiled: dict[str, re.Pattern[str]] = {}
#: ``Authorization: Bearer X``: the scheme is not the secret (the auth pass masks X).
_SCHEMES = {"bearer", "basic", "token", "digest"}


def _rx(name: str) -> re.Pattern[str]:
    rx = _compiled.get(name)
    if rx is None:
        rx = _compiled[name] = re.compile(_PATTERNS[name], re.S if name == "pem" else 0)
    return rx


def _words(key: str) -> list[str]:
    return [w for w in _SPLIT.split(_CAMEL.sub("_", key).lower()) if w]


def is_secret_key(key: str) -> bool:
    """True for ``api_key``, ``OPENAI_API_KEY``, ``hf_token``, ``db_password``, ``db.password``,
    ``wandb.api_key``, ``aws_secret_access_key``, ``client_secret``, ``private_key``, ``auth``,
    ``pw``, ``pass``, ``Authorization``…; False for ``max_tokens``, ``num_tokens``,
    ``tokenizer``, ``key_dim``, ``monkey_patch``, ``pass_rate``, ``auth_enabled``."""
    if _FRAGMENT.search(key.lower()) is None:  # most keys: no word that could make them secret
        return False
    words = _words(key)
    if not words:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    last = words[-1]
    if last in _LAST_WORDS:
        return True
    if last == "key":
        return len(words) == 1 or words[-2] in _KEY_QUALIFIERS or words[-2] in _VENDORS
    return False


def mask(value: str) -> str:
    """``••••`` plus the last 4 characters (only for values of 16 characters or more, so that
    at most a quarter of a value is shown: enough to tell two keys apart)."""
    return MASK + (value[-4:] if len(value) >= 16 else "")


def _url(m: re.Match[str]) -> str:
    if m["pw"] is not None:
        return f"{m['url']}{m['user']}:{MASK}@"
    return f"{m['url']}{mask(m['key'])}@"


def _key_values(text: str) -> str:
    """Mask the values of ``key=value`` / ``key: value`` pairs whose key looks secret."""
    low = text.lower()
    rx, hay = (_rx("kv"), low) if len(low) == len(text) else (_rx("kv_i"), text)
    parts: list[str] = []
    pos = 0
    for m in rx.finditer(hay):
        ks = m.start()
        while ks > 0 and (text[ks - 1].isalnum() or text[ks - 1] in "_.-"):
            ks -= 1
        group = "dq" if m["dq"] is not None else "sq" if m["sq"] is not None else "bare"
        vs, ve = m.span(group)
        val = text[vs:ve]
        if MASK in val or val.lower() in _SCHEMES or not is_secret_key(text[ks:m.start("sep")]):
            continue
        parts.append(text[pos:vs])
        parts.append(mask(val))
        pos = ve
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)


def mask_text(text: str) -> str:
    """``text`` with every secret the policy recognises replaced (see the module docs).

    Each family of secrets has a cheap pre-check (a substring or a pattern without look-behind)
    so that a line holding none costs a few scans of it, not a regex alternation per position."""
    if not text:
        return text
    if "://" in text:
        text = _rx("url").sub(_url, text)
    low = text.lower()
    if "bearer" in low or "authorization" in low:
        text = _rx("auth").sub(lambda m: m["head"] + mask(m["v"]), text)
    if "=" in text or ":" in text:
        text = _key_values(text)
    if _rx("tok_hint").search(text) is not None:
        text = _rx("tok").sub(lambda m: mask(m.group()), text)
    if "PRIVATE KEY-----" in text:
        text = _rx("pem").sub(lambda m: f"-----BEGIN {m[1]}PRIVATE KEY----- {MASK} -----END {m[1]}PRIVATE KEY-----",
                              text)
    return text


def mask_secrets(v: Any, key: str = "", numbers: bool = True) -> Any:
    """Mask secret-looking data in JSON-able config / summary data (by key name or by value).

    ``numbers=False`` leaves numbers under a secret-looking key alone (a summary's metrics)."""
    if isinstance(v, dict):
        return {k: mask_secrets(sub, k, numbers) for k, sub in v.items()}
    if isinstance(v, list):
        return [mask_secrets(x, key, numbers) for x in v]
    if (key and v is not None and not isinstance(v, bool) and (numbers or isinstance(v, str))
            and is_secret_key(key)):
        sv = str(v)
        return sv if sv.startswith(MASK) else mask(sv)  # numbers too; never mask twice
    if isinstance(v, str) and v and not v.startswith(MASK):
        if _rx("whole").match(v):
            return mask(v)
        return mask_text(v)
    return v


def _flag_name(a: str) -> str:
    """``--db.password`` / ``+db.password`` / ``++x`` / ``~x`` -> the key (Hydra prefixes too)."""
    return a.lstrip("-+~")


def mask_argv(argv: list[str]) -> list[str]:
    """The command line with secrets masked: ``--password=X``, ``--token X``, ``-p X``,
    ``db.password=X`` (Hydra/OmegaConf), URL passwords and token shapes anywhere."""
    out: list[str] = []
    hide_next = False
    for a in argv:
        if hide_next:
            hide_next = False
            if not a.startswith("-") or a == "-":
                out.append(mask(a))
                continue
        if "=" in a and not a.startswith("="):
            k, v = a.split("=", 1)
            name = _flag_name(k)
            if name and " " not in name and is_secret_key(name):
                out.append(f"{k}={mask(v)}" if v else a)
                continue
        elif a.startswith("-") and (a in _SHORT_SECRET_FLAGS or is_secret_key(_flag_name(a))):
            out.append(a)
            hide_next = True
            continue
        out.append(mask_text(a))
    return out


def masker(enabled: bool) -> Callable[[str], str]:
    """:func:`mask_text` when masking is on, else the identity."""
    return mask_text if enabled else _same


def _same(text: str) -> str:
    return text
