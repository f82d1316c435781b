"""What the Artifacts screen shows for one artifact, as plain nodes built in a worker thread:
its versions, each with aliases, files, metadata and lineage.

Lineage is a tree walked from a version: **upstream** (the run that logged it → the versions
that run used → the runs that logged those …) and **downstream** (the runs that used it → the
versions they logged → the runs that used those …). A run or version met a second time is shown
once more, marked, without children: cycles (a run that uses what it logged) and diamonds stop.
No Textual here; the screen turns nodes into ``Tree`` items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tracker.tui import fmt
from tracker.tui.text import sanitize

#: How far lineage is walked (run -> version -> run … counts each hop).
MAX_DEPTH = 8
#: Files listed per version before "… N more".
MAX_FILES = 200


@dataclass
class Node:
    """One line of the tree: ``label`` is sanitised text; ``run_id`` set on run lines."""

    label: str
    kind: str = "info"  # info | version | run | heading
    run_id: str | None = None
    children: list[Node] = field(default_factory=list)
    expand: bool = False


def size(n: int | None) -> str:
    if n is None:
        return "-"
    v = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if v < 1000:
            return f"{int(v)} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1000
    return f"{v:.1f} TB"


class _Walker:
    def __init__(self, astore: Any) -> None:
        self.a = astore
        self.names: dict[str, str] = {}

    def run_node(self, run_id: str, prefix: str) -> Node:
        if run_id not in self.names:
            try:
                self.names[run_id] = self.a.store.run(run_id).name
            except Exception:  # the run was deleted: show its id alone
                self.names[run_id] = "?"
        return Node(sanitize(f"{prefix}run {run_id} {self.names[run_id]}"), "run", run_id, expand=True)

    def upstream(self, vid: int, seen: set[Any], depth: int) -> list[Node]:
        """The run that logged this version, the versions it used, the runs that logged those..."""
        return self._walk(vid, seen, depth, ("logged", "logged by ", "used"), limit=1)

    def downstream(self, vid: int, seen: set[Any], depth: int) -> list[Node]:
        """The runs that used this version, the versions they logged, the runs that used those..."""
        return self._walk(vid, seen, depth, ("used", "used by ", "logged"), limit=None)

    def _walk(self, vid: int, seen: set[Any], depth: int, way: tuple[str, str, str], limit: int | None) -> list[Node]:
        """One direction of the lineage: ``way`` is (how runs relate to this version, the runs'
        label, how their versions relate to them); a run or version met before is cut."""
        run_kind, run_label, ver_kind = way
        out = []
        for rid in self.a.version_runs(vid, run_kind)[:limit]:
            node = self.run_node(rid, run_label)
            out.append(node)
            if ("run", rid) in seen or depth >= MAX_DEPTH:
                node.label += "  (shown above)" if ("run", rid) in seen else "  …"
                continue
            seen.add(("run", rid))
            for v in self.a.run_versions(rid, ver_kind):
                vn = Node(sanitize(f"{ver_kind} {v.qualified}"), "version", expand=True)
                node.children.append(vn)
                if ("ver", v.vid) in seen:
                    vn.label += "  (shown above)"
                    continue
                seen.add(("ver", v.vid))
                vn.children = self._walk(v.vid, seen, depth + 2, way, limit)
        return out


def version_node(astore: Any, rec: Any, expand: bool) -> Node:
    """A version with its files, metadata and lineage."""
    walker = _Walker(astore)
    aliases = f"  [{', '.join(rec.aliases)}]" if rec.aliases else ""
    run = f"  run {rec.run_id}" if rec.run_id else ""
    head = Node(sanitize(f"v{rec.version}{aliases}  {size(rec.size)}  {rec.file_count} file(s){run}  "
                         f"{fmt.when(rec.created_at)}"), "version", expand=expand)
    if rec.description:
        head.children.append(Node(sanitize(f"description: {rec.description}")))
    if rec.source:
        head.children.append(Node(sanitize(f"linked from {rec.source}")))
    files = astore.files(rec.vid)
    fnode = Node(f"files ({len(files)})", "heading", expand=expand and len(files) <= 20)
    for e in files[:MAX_FILES]:
        what = size(e.size) if e.digest else f"reference {e.ref}"
        fnode.children.append(Node(sanitize(f"{e.path}  {what}")))
    if len(files) > MAX_FILES:
        fnode.children.append(Node(f"… {len(files) - MAX_FILES} more (tracker-tui artifact show)"))
    head.children.append(fnode)
    if rec.metadata:
        mnode = Node("metadata", "heading", expand=expand)
        for k, v in sorted(rec.metadata.items()):
            mnode.children.append(Node(sanitize(f"{k} = {json.dumps(fmt.json_safe(v))[:200]}")))
        head.children.append(mnode)
    seen: set[Any] = {("ver", rec.vid)}
    up = Node("upstream", "heading", expand=expand, children=walker.upstream(rec.vid, set(seen), 0))
    down = Node("downstream", "heading", expand=expand, children=walker.downstream(rec.vid, set(seen), 0))
    for n in (up, down):
        if not n.children:
            n.children.append(Node("(none)"))
    head.children += [up, down]
    return head


def artifact_nodes(astore: Any, project: str, name: str) -> list[Node]:
    """Every version of an artifact, newest first; the newest one opened."""
    return [version_node(astore, rec, i == 0) for i, rec in enumerate(astore.versions(project, name))]
