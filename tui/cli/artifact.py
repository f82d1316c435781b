"""``tracker-tui artifact``: list, inspect, download, promote and clean up artifact versions.

    tracker-tui artifact ls [--project P] [--type T] [--json]
    tracker-tui artifact show NAME[:vN|:alias] [--json]
    tracker-tui artifact download NAME[:v] -o DIR [--hardlink]
    tracker-tui artifact promote NAME:vN ALIAS          move ALIAS (e.g. production) to vN
    tracker-tui artifact rm NAME:vN [--force]           refuses a version holding an alias
    tracker-tui artifact prune NAME --keep-last N [--keep-aliased]
    tracker-tui artifact gc [--grace SECONDS]           delete files no version references
    tracker-tui gc [--grace SECONDS]                    the same
    tracker-tui artifact diff NAME:vA NAME:vB           files added / removed / changed, metadata

``NAME`` is ``[project/]name``. Every stored string is sanitised before it is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tracker.tui import fmt
from tracker.tui.cli._common import open_api, plain_table
from tracker.tui.text import sanitize


def size(n: int | None) -> str:
    """Bytes for people: ``512 B``, ``3.4 MB``."""
    if n is None:
        return "-"
    v = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if v < 1000 or unit == "TB":
            return f"{int(v)} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1000
    return f"{n} B"


def configure(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("artifact", help="list, show, download, promote, prune artifacts")
    s = p.add_subparsers(dest="artifact_cmd", required=True)
    ls = s.add_parser("ls", help="list artifacts")
    ls.add_argument("--project", "-p")
    ls.add_argument("--type", "-t")
    ls.add_argument("--json", action="store_true")
    show = s.add_parser("show", help="a version's files, metadata, aliases and lineage")
    show.add_argument("ref", metavar="NAME[:v]")
    show.add_argument("--json", action="store_true")
    dl = s.add_parser("download", help="write a version's files into a directory")
    dl.add_argument("ref", metavar="NAME[:v]")
    dl.add_argument("-o", "--output", required=True, metavar="DIR")
    dl.add_argument("--hardlink", action="store_true", help="hardlink the read-only stored files instead of copying")
    pr = s.add_parser("promote", help="point an alias (production, best…) at a version")
    pr.add_argument("ref", metavar="NAME:vN")
    pr.add_argument("alias")
    rm = s.add_parser("rm", help="delete a version (refused while it holds an alias)")
    rm.add_argument("ref", metavar="NAME:vN")
    rm.add_argument("--force", action="store_true", help="delete its aliases too")
    pn = s.add_parser("prune", help="delete old versions")
    pn.add_argument("name", metavar="NAME")
    pn.add_argument("--keep-last", type=int, required=True, metavar="N")
    pn.add_argument("--keep-aliased", action="store_true", help="also keep every version holding an alias")
    gc = s.add_parser("gc", help="delete stored files no version references")
    gc.add_argument("--grace", type=float, default=3600.0, metavar="SECONDS",
                    help="keep unreferenced files younger than this (default 3600)")
    df = s.add_parser("diff", help="compare two versions")
    df.add_argument("a", metavar="NAME:vA")
    df.add_argument("b", metavar="NAME:vB")
    top = sub.add_parser("gc", help="delete stored files nothing references (same as `artifact gc`)")
    top.add_argument("--grace", type=float, default=3600.0, metavar="SECONDS",
                     help="keep unreferenced files younger than this (default 3600)")
    top.set_defaults(func=cmd_artifact, artifact_cmd="gc")
    for sp in (ls, show, dl, pr, rm, pn, gc, df, top):
        sp.add_argument("--store", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_artifact)
    return p


def cmd_artifact(args: argparse.Namespace) -> int:
    api = open_api(args.store)
    if api is None:
        return 1
    return int(_COMMANDS[args.artifact_cmd](api, args))


def _ls(api: Any, args: argparse.Namespace) -> int:
    rows = api.artifact_collections(args.project, args.type)
    if args.json:
        json.dump([{"project": s.project, "name": s.name, "type": s.type, "versions": s.versions,
                    "latest": s.latest, "aliases": dict(s.aliases), "size": s.size, "run": s.producer,
                    "updated_at": s.updated_at} for s in rows], sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print(f"no artifacts in {sanitize(api.dir)}")
        return 0
    table = [[sanitize(f"{s.project}/{s.name}"), sanitize(s.type), str(s.versions),
              sanitize(" ".join(f"{a}:v{v}" for a, v in s.aliases)), size(s.size), sanitize(s.producer or "-"),
              fmt.when(s.updated_at)] for s in rows]
    print(plain_table(["NAME", "TYPE", "VERSIONS", "ALIASES", "SIZE", "RUN", "UPDATED"], table,
                      right=lambda i: i in (2, 4)))
    return 0


def _show(api: Any, args: argparse.Namespace) -> int:
    art = api.artifact(args.ref)
    rec = art._record()
    files = art.files()
    logged = art._astore.version_runs(rec.vid, "logged")
    used = art._astore.version_runs(rec.vid, "used")
    if args.json:
        json.dump({"name": rec.qualified, "type": rec.type, "version": art.version, "digest": rec.digest,
                   "aliases": rec.aliases, "size": rec.size, "created_at": rec.created_at,
                   "description": rec.description, "metadata": fmt.json_safe(rec.metadata),
                   "logged_by": logged, "used_by": used, "source": rec.source,
                   "files": [{"path": e.path, "digest": e.digest, "size": e.size, "ref": e.ref} for e in files]},
                  sys.stdout)
        sys.stdout.write("\n")
        return 0
    print(sanitize(f"{rec.qualified}  ({rec.type})  {', '.join(rec.aliases)}"))
    print(f"digest     {rec.digest}")
    print(f"created    {fmt.when(rec.created_at)}   size {size(rec.size)} in {rec.file_count} file(s)")
    for label, val in (("description", rec.description), ("linked from", rec.source)):
        if val:
            print(f"{label:<10} {sanitize(val)}")
    print(f"logged by  {sanitize(', '.join(logged) or '-')}")
    print(f"used by    {sanitize(', '.join(used) or '-')}")
    moves = [e for e in api._artifacts().alias_events(rec.project, rec.name) if e["alias"] != "latest"][-10:]
    if moves:
        print("alias history")
        for e in moves:
            to = f"v{e['version']}" if e["version"] is not None else "(removed)"
            frm = f" from v{e['previous']}" if e["previous"] is not None else ""
            by = " ".join(x for x in (e["user"] and f"by {e['user']}", e["host"] and f"on {e['host']}",
                                       e["run"] and f"run {e['run']}") if x)
            print(sanitize(f"  {fmt.when(e['ts'])}  {e['alias']} -> {to}{frm}  {by}"))
    if rec.metadata:
        print("metadata")
        for k, v in sorted(rec.metadata.items()):
            print(f"  {sanitize(k)} = {sanitize(json.dumps(fmt.json_safe(v)))}")
    print("files")
    print(plain_table(["PATH", "SIZE", "DIGEST"], [
        [sanitize(e.path), size(e.size), (e.digest or "")[:12] or sanitize(f"ref {e.ref}")] for e in files
    ], right=lambda i: i == 1))
    return 0


def _download(api: Any, args: argparse.Namespace) -> int:
    art = api.artifact(args.ref)
    out = art.download(args.output, hardlink=args.hardlink)
    print(sanitize(f"{art.qualified_name}: {art.file_count} file(s), {size(art.size)} -> {out}"))
    return 0


def _promote(api: Any, args: argparse.Namespace) -> int:
    from tracker._artifacts_read import who

    art = api.artifact(args.ref)
    before = api.artifact(f"{art.project}/{art.name}:{args.alias}").version if api.artifact_exists(
        f"{art.project}/{art.name}:{args.alias}") else None
    art._astore.set_aliases(art.id, [args.alias], (), who())
    moved = f" (was {before})" if before and before != art.version else ""
    print(sanitize(f"{art.project}/{art.name}: {args.alias} -> {art.version}{moved}"))
    return 0


def _rm(api: Any, args: argparse.Namespace) -> int:
    art = api.artifact(args.ref)
    name = art.qualified_name
    art.delete(delete_aliases=args.force)
    print(sanitize(f"deleted {name} (its files are freed by `tracker-tui artifact gc`)"))
    return 0


def _prune(api: Any, args: argparse.Namespace) -> int:
    from tracker._artifacts_read import who
    from tracker.store.artifacts_models import parse_ref

    project, name, _ = parse_ref(args.name)
    a = api._artifacts()
    if project is None:
        project = a.resolve(None, name, "latest").project
    gone = a.prune(project, name, keep_last=args.keep_last, keep_aliased=args.keep_aliased, who=who())
    listed = ", ".join(f"v{v}" for v in sorted(gone)) or "nothing"
    print(sanitize(f"{project}/{name}: deleted {listed}"))
    return 0


def _gc(api: Any, args: argparse.Namespace) -> int:
    n, freed = api._artifacts().gc(grace=args.grace)
    print(f"deleted {n} unreferenced file(s), {size(freed)} freed")
    return 0


def _diff(api: Any, args: argparse.Namespace) -> int:
    a, b = api.artifact(args.a), api.artifact(args.b)
    fa, fb = {e.path: e for e in a.files()}, {e.path: e for e in b.files()}
    print(sanitize(f"--- {a.qualified_name}"))
    print(sanitize(f"+++ {b.qualified_name}"))
    for path in sorted(fa.keys() | fb.keys()):
        if path not in fa:
            print(sanitize(f"+ {path}  {size(fb[path].size)}"))
        elif path not in fb:
            print(sanitize(f"- {path}  {size(fa[path].size)}"))
        elif fa[path] != fb[path]:
            print(sanitize(f"~ {path}  {size(fa[path].size)} -> {size(fb[path].size)}"))
    ma, mb = a.metadata, b.metadata
    for k in sorted(ma.keys() | mb.keys()):
        if ma.get(k) != mb.get(k) or (k in ma) != (k in mb):
            old = json.dumps(fmt.json_safe(ma[k])) if k in ma else "(absent)"
            new = json.dumps(fmt.json_safe(mb[k])) if k in mb else "(absent)"
            print(sanitize(f"metadata {k}: {old} -> {new}"))
    return 0


_COMMANDS = {"ls": _ls, "show": _show, "download": _download, "promote": _promote, "rm": _rm,
             "prune": _prune, "gc": _gc, "diff": _diff}
