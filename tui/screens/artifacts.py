"""The Artifacts screen: every artifact (name, type, versions, aliases, size, producing run) and,
for the one under the cursor, its versions as a tree: files, metadata, and lineage upstream and
downstream. Enter on a run line opens that run.

Reads run in a thread worker on the screen's own store connection (the runs screen's reader is
not shared) and come back as messages; every stored string is sanitised before it is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Tree

from tracker.tui import fmt
from tracker.tui.messages import StoreChanged
from tracker.tui.screens.base import TitleBar, TrackerScreen
from tracker.tui.text import sanitize
from tracker.tui.widgets.artifact_tree import Node, artifact_nodes, size
from tracker.tui.widgets.key_bar import KeyBar


@dataclass
class ArtifactsLoaded(Message):
    """The artifact list (``ArtifactSummary`` rows), or an error to show."""

    rows: list[Any]
    error: str | None = None


@dataclass
class ArtifactTreeLoaded(Message):
    """The version tree of one artifact (``key`` is ``project/name``)."""

    key: str
    nodes: list[Node]
    error: str | None = None


class ArtifactsScreen(TrackerScreen):
    """Artifacts of the store and their lineage."""

    HELP_TITLE = "Artifacts"
    DEFAULT_CSS = """
    ArtifactsScreen #art-table { height: auto; max-height: 40%; }
    ArtifactsScreen #art-tree { height: 1fr; border-top: solid $primary-darken-2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open run / expand", id="artifacts.open"),
        Binding("tab", "switch", "Table/tree", id="artifacts.switch"),
        Binding("R", "reload", "Reload", show=False, id="artifacts.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._astore: Any = None
        self.rows: dict[str, Any] = {}
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(Text("Artifacts", style="bold"), id="art-title")
        table: DataTable[Any] = DataTable(id="art-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Tree(Text("select an artifact"), id="art-tree")
        yield KeyBar(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#art-table", DataTable)
        for col in ("NAME", "TYPE", "VERS", "ALIASES", "SIZE", "RUN"):
            table.add_column(col, key=col)
        table.focus()
        self._load()

    # ------------------------------------------------------------------ reading (worker thread)
    def _store(self) -> Any:
        if self._astore is None:
            from tracker.store import Store
            from tracker.store.artifacts import ArtifactStore

            self._astore = ArtifactStore(Store(self.tapp.reader.dir, create=False))
        return self._astore

    @work(thread=True, exclusive=True, group="artifacts", exit_on_error=False)
    def _load(self) -> None:
        try:
            self.post_message(ArtifactsLoaded(self._store().artifacts()))
        except Exception as e:  # no store, an old schema, a read error: shown, never raised
            self.post_message(ArtifactsLoaded([], str(e)))

    @work(thread=True, exclusive=True, group="artifact-tree", exit_on_error=False)
    def _load_tree(self, key: str) -> None:
        project, name = key.split("/", 1)
        try:
            self.post_message(ArtifactTreeLoaded(key, artifact_nodes(self._store(), project, name)))
        except Exception as e:  # deleted meanwhile, store gone: shown, never raised
            self.post_message(ArtifactTreeLoaded(key, [], str(e)))

    # ------------------------------------------------------------------ showing
    @on(ArtifactsLoaded)
    def _loaded(self, msg: ArtifactsLoaded) -> None:
        table = self.query_one("#art-table", DataTable)
        if msg.error:
            self.set_title(Text(sanitize(f"Artifacts: {msg.error}"), style="red"))
            return
        keep = self.current
        table.clear()
        self.rows = {}
        for s in msg.rows:
            key = f"{s.project}/{s.name}"
            self.rows[key] = s
            aliases = " ".join(a for a, _ in s.aliases if a != "latest")
            table.add_row(Text(sanitize(key)), Text(sanitize(s.type)), Text(str(s.versions), justify="right"),
                          Text(sanitize(aliases)), Text(size(s.size), justify="right"),
                          Text(sanitize(s.producer or "-")), key=key)
        total = sum(s.size for s in msg.rows)
        self.set_title(Text(f"Artifacts  {len(msg.rows)} artifact(s), {size(total)} in versions", style="bold"))
        if not msg.rows:
            tree = self.query_one("#art-tree", Tree)
            tree.reset(Text("no artifacts yet: run.log_artifact(tracker.Artifact(...)) logs one"))
            return
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self._show(keep if keep in self.rows else next(iter(self.rows)))

    def _show(self, key: str) -> None:
        self.current = key
        self._load_tree(key)

    @on(DataTable.RowHighlighted, "#art-table")
    def _highlighted(self, msg: DataTable.RowHighlighted) -> None:
        key = msg.row_key.value
        if key and key != self.current:
            self._show(str(key))

    @on(ArtifactTreeLoaded)
    def _tree_loaded(self, msg: ArtifactTreeLoaded) -> None:
        if msg.key != self.current:
            return
        s = self.rows.get(msg.key)
        tree: Tree[Any] = self.query_one("#art-tree", Tree)
        head = Text(sanitize(msg.key), style="bold")
        if s is not None:
            head.append(sanitize(f"  ({s.type})  updated {fmt.when(s.updated_at)}"))
        tree.reset(head)
        if msg.error:
            tree.root.add_leaf(Text(sanitize(msg.error), style="red"))
        for n in msg.nodes:
            self._add(tree.root, n)
        tree.root.expand()

    def _add(self, parent: Any, n: Node) -> None:
        style = {"version": "bold", "run": "cyan", "heading": "italic"}.get(n.kind, "")
        label = Text(n.label, style=style)
        if n.children:
            child = parent.add(label, data=n.run_id, expand=n.expand)
            for c in n.children:
                self._add(child, c)
        else:
            parent.add_leaf(label, data=n.run_id)

    # ------------------------------------------------------------------ keys
    @on(StoreChanged)
    def _changed(self, _: StoreChanged) -> None:
        self._load()

    def action_reload(self) -> None:
        self._load()

    def action_switch(self) -> None:
        table = self.query_one("#art-table", DataTable)
        tree = self.query_one("#art-tree", Tree)
        (table if tree.has_focus else tree).focus()

    def action_open(self) -> None:
        self.query_one("#art-tree", Tree).focus()

    @on(DataTable.RowSelected, "#art-table")
    def _selected(self, _: DataTable.RowSelected) -> None:
        self.query_one("#art-tree", Tree).focus()

    @on(Tree.NodeSelected, "#art-tree")
    def _node(self, msg: Tree.NodeSelected[Any]) -> None:
        if msg.node.data:
            self.tapp.open_detail(str(msg.node.data))
