"""Where and how a run ran: host, user, command, Python, git. Never raises."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any


def host_info() -> dict[str, Any]:
    """Facts that are cheap to read at ``init()`` (no subprocess)."""
    try:
        user = os.environ.get("USER") or os.environ.get("LOGNAME")
        if not user:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
    except Exception:  # no passwd entry in some containers
        user = None
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    return {
        "host": socket.gethostname(),
        "user": user,
        "pid": os.getpid(),
        "argv": [sys.executable] + list(sys.argv),
        "python": sys.version.split()[0],
        "cwd": cwd,
    }


#: The uncommitted diff kept with a run is cut beyond this many bytes (with a marker).
MAX_DIFF_BYTES = 1024 * 1024


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x.git`` -> ``https://host/x.git`` (scp-style ``git@host:x`` kept)."""
    import re

    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@", r"\1", url.strip())


def cap_text(text: str, limit: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore") + f"\n[diff truncated: {len(data) - limit:,} more bytes not kept]\n"


def git_info(cwd: str | None, timeout: float = 3.0) -> dict[str, Any]:
    """Commit, branch, dirty flag, remote URL (credentials stripped), uncommitted diff (capped)
    and root of the repository holding ``cwd``; ``{}`` when not in a repository, when git is
    missing, or when it takes longer than ``timeout``."""
    if not cwd:
        return {}
    try:
        import subprocess

        def git(*args: str) -> str | None:
            p = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                stdin=subprocess.DEVNULL, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
            )
            return p.stdout.strip() if p.returncode == 0 else None

        commit = git("rev-parse", "HEAD")
        if commit is None:
            return {}
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
        out: dict[str, Any] = {
            "git_commit": commit,
            "git_branch": None if branch in (None, "HEAD") else branch,
            "git_dirty": None if status is None else int(bool(status)),
        }
        remote = git("remote", "get-url", "origin")
        if remote:
            out["git_remote"] = strip_credentials(remote)
        if status:
            diff = git("diff", "HEAD", "--no-color", "--no-ext-diff")
            if diff:
                out["git_diff"] = cap_text(diff, MAX_DIFF_BYTES)
        root = git("rev-parse", "--show-toplevel")
        if root:
            out["git_root"] = root
        return out
    except Exception:  # git missing, timeout, odd cwd: never fail a training run over git
        return {}
