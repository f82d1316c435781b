"""``tracker.Table``: rows of numbers, strings, bools, None and Images, with wandb's methods.

A table is stored as one JSON object ``{"columns": [...], "data": [[...], ...]}`` in the object
store (identical tables are kept once); an Image cell becomes ``{"_type": "image-file", ...}``
pointing at its PNG. Like wandb, at most 200,000 rows are logged (the rest are dropped with a
warning), and a table whose JSON is over 64 MB is not logged (a warning names the key).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ._media import Blob, Image, Media, Record

__all__ = ["Table"]

MAX_ROWS = 200_000
MAX_TABLE_BYTES = 64 << 20


def _cell(v: Any, blobs: list[Blob], images: dict[int, int]) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return v  # NaN / Infinity kept (Python's json reads them back)
    if isinstance(v, Image):
        key = id(v)
        if key not in images:
            rec = v.to_record()
            images[key] = len(blobs)
            blobs.append(rec.blobs[0])
        meta = v.to_record().meta
        return {"_type": "image-file", "blob": images[key], "width": meta["width"], "height": meta["height"],
                **({"caption": meta["caption"]} if "caption" in meta else {})}
    if isinstance(v, Media):
        return {"_type": v._kind}
    item = getattr(v, "item", None)
    if callable(item) and getattr(v, "ndim", 0) == 0:
        return _cell(item(), blobs, images)
    tolist = getattr(v, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(v, (list, tuple, dict)):
        return json.loads(json.dumps(v, default=str))
    return str(v)


class Table(Media):
    """A table: ``Table(columns=["id", "pred"], data=[[1, "cat"], ...])`` or ``Table(dataframe=df)``.

    Methods as in wandb: ``add_data(*row)``, ``add_column(name, data)``, ``get_column(name)``.
    """

    _kind = "table"

    def __init__(self, columns: Sequence[Any] | None = None, data: Sequence[Sequence[Any]] | None = None,
                 rows: Sequence[Sequence[Any]] | None = None, dataframe: Any = None,
                 dtype: Any = None, optional: Any = True, allow_mixed_types: bool = False) -> None:
        self.allow_mixed_types = allow_mixed_types
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.values.tolist()
        data = data if data is not None else rows
        if data is not None and hasattr(data, "tolist"):
            data = data.tolist()
        rows_list = [list(r) for r in (data or [])]
        if columns is None:
            width = len(rows_list[0]) if rows_list else 0
            columns = [f"col{i + 1}" for i in range(width)]
        self.columns: list[str] = [str(c) for c in columns]
        self.data: list[list[Any]] = []
        for r in rows_list:
            self.add_data(*r)

    def add_data(self, *row: Any) -> None:
        """Append one row (as many values as columns)."""
        if len(row) != len(self.columns):
            self._error = f"a row of {len(row)} values for {len(self.columns)} columns"
            raise ValueError(f"tracker: Table.add_data: {self._error}")
        self.data.append(list(row))

    def add_column(self, name: str, data: Sequence[Any]) -> None:
        """Add a column (``data`` has one value per existing row)."""
        if self.data and len(data) != len(self.data):
            raise ValueError(f"tracker: Table.add_column: {len(data)} values for {len(self.data)} rows")
        if name in self.columns:
            raise ValueError(f"tracker: Table.add_column: column {name!r} exists")
        self.columns.append(str(name))
        if not self.data:
            self.data = [[v] for v in data]
        else:
            for r, v in zip(self.data, data):
                r.append(v)

    def get_column(self, name: str, convert_to: str | None = None) -> list[Any]:
        """The values of column ``name`` (``convert_to="numpy"`` for an array)."""
        i = self.columns.index(name)
        col = [r[i] for r in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.array(col)  # type: ignore[return-value]
        return col

    def add_row(self, *row: Any) -> None:
        self.add_data(*row)

    def to_record(self) -> Record:
        from ._values import warn_once

        rows = self.data
        if len(rows) > MAX_ROWS:
            warn_once(f"table-rows:{id(self)}", f"tracker: a Table of {len(rows):,} rows; the first {MAX_ROWS:,} "
                      "are logged (the rest are dropped, as wandb does)")
            rows = rows[:MAX_ROWS]
        blobs: list[Blob] = [b""]
        images: dict[int, int] = {}
        for r in rows:
            for v in r:
                if isinstance(v, Image) and v._error:
                    raise ValueError(f"an Image cell could not be logged: {v._error}")
        cells = [[_cell(v, blobs, images) for v in r] for r in rows]
        text = json.dumps({"columns": self.columns, "data": cells}, ensure_ascii=False, separators=(",", ":"))
        body = text.encode("utf-8")
        if len(body) > MAX_TABLE_BYTES:
            raise ValueError(f"the table is {len(body) / 1e6:,.0f} MB as JSON, over the {MAX_TABLE_BYTES >> 20} MB "
                             "limit; log fewer rows or split it")
        blobs[0] = body
        return Record("table", {"columns": len(self.columns), "rows": len(rows), "table": 0}, blobs)

    def __len__(self) -> int:
        return len(self.data)
