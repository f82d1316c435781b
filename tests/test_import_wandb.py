"""``tracker-tui import`` of wandb offline runs (``offline-run-*/run-*.wandb``, written by wandb
itself in offline mode: tests/data/importers/make_fixtures.py), read back through ``tracker.Api``;
torn, corrupt and block-spanning variants are made here from the real files."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from import_helpers import cli, dec, expected, fixture, pb_len, point_count, same

import tracker
from tracker.store.importers.wandb_log import HEADER_LEN, encode, records
from tracker.store.importers.wire import message


def runs(store):
    return {r.name: r for r in tracker.Api(store).runs()}


def files(folder):
    return sorted((folder / "wandb").glob("offline-run-*/run-*.wandb"))


def snapshot(store):
    """Everything a user sees of the imported runs (to compare two ways of importing)."""
    out = {}
    for name, r in runs(store).items():
        out[name] = (r.state, r.exit_code, r.config, r.tags, r.notes, r.group, r.job_type, r.summary,
                     r.console(), [(a["title"], a["text"]) for a in r.alerts()],
                     # each series in its logging order (the writer may group series together)
                     json.dumps(sorted(r.points(), key=lambda p: p[2]), allow_nan=True))
    return out


def test_import_reads_back_what_wandb_wrote(tmp_path):
    folder = fixture(tmp_path, "wandb")
    store = tmp_path / "store"
    out = cli(str(folder), store=store)
    assert out.returncode == 0, out.stderr
    assert "2 runs (2 new)" in out.stdout
    got = runs(store)
    for w in expected("wandb"):
        r = got[w["name"]]
        assert r.project == w["project"] and r.config == w["config"]  # nested as logged, _wandb left out
        assert (r.tags, r.notes, r.group, r.job_type) == (w["tags"], w["notes"], w["group"], w["job_type"])
        assert r.exit_code == w["exit_code"] and r.state == ("finished" if w["exit_code"] == 0 else "failed")
        assert r.meta["origin"]["source_id"] in r.meta["origin"]["path"]
        hist = r.history([k for k in r.keys() if not k.startswith("system/")], pandas=False)
        assert [h["_step"] for h in hist] == list(range(len(w["logs"])))
        for row, logged in zip(hist, w["logs"]):
            flat = {}
            for k, v in logged.items():
                if isinstance(v, dict):
                    flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
                else:
                    flat[k] = dec(v)
            assert {k for k in row if not k.startswith("_")} == set(flat)
            assert all(same(float(row[k]), float(flat[k])) for k in flat), (row, flat)
        assert r.console() == [f"{w['name']}: step {i} done" for i in range(len(w["logs"]))]
        for k, v in w["summary"].items():
            assert r.summary[k] == v
        assert r.system_summary.get("system/ram_percent", 0) > 0  # wandb's memory_percent, sampled
        # wandb's other system metrics are system metrics here too: not in the summary or history
        assert any(k.startswith("system/wandb/") for k in r.system_summary)
        assert not any(k.startswith("system/") for k in r.summary)
        assert r.created_at < r.finished_at
    a = got["resnet-a"]
    assert [(x["title"], x["text"]) for x in a.alerts() if x["auto"] is None] == [tuple(expected("wandb")[0]["alert"])]
    assert math.isnan(a.history(["train/loss"], pandas=False)[2]["train/loss"]) and a.summary["grad/norm"] == -math.inf


def test_reimport_adds_nothing(tmp_path):
    folder = fixture(tmp_path, "wandb")
    store = tmp_path / "store"
    assert cli(str(folder), store=store).returncode == 0
    n = point_count(store)
    again = cli(str(folder), store=store)
    assert again.returncode == 0 and "2 runs (2 unchanged), 0 new points, 0 new events" in again.stdout
    assert point_count(store) == n


@pytest.mark.parametrize("cut", [0.15, 0.4, 0.5, 0.77, 0.93, 0.999])
def test_torn_tail_then_the_rest_equals_one_whole_import(tmp_path, cut):
    folder = fixture(tmp_path, "wandb")
    whole = {f: f.read_bytes() for f in files(folder)}
    direct = tmp_path / "direct"
    assert cli(str(folder), store=direct).returncode == 0
    for f, data in whole.items():
        f.write_bytes(data[: max(HEADER_LEN, int(len(data) * cut))])
    store = tmp_path / "store"
    first = cli(str(folder), store=store)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "stopped at an incomplete record" in first.stdout or cut < 0.2
    for f, data in whole.items():
        f.write_bytes(data)
    second = cli(str(folder), store=store)
    assert second.returncode == 0, second.stdout + second.stderr
    assert snapshot(store) == snapshot(direct)


def test_corrupt_chunk_in_the_middle_skips_that_record_only(tmp_path):
    folder = fixture(tmp_path, "wandb")
    f = next(p for p in files(folder) if b"resnet-a" in p.read_bytes())
    data = bytearray(f.read_bytes())
    recs, _, _, _ = records(bytes(data[HEADER_LEN:]), HEADER_LEN)
    hist = [(rec, end) for rec, end in recs if 2 in message(rec)]  # Record.history (field 2)
    rec, end = hist[1]  # the second history row
    data[end - 3] ^= 0x01
    f.write_bytes(bytes(data))
    store = tmp_path / "store"
    out = cli(str(folder), store=store)
    assert out.returncode == 1
    assert "skipped 1 unreadable record: wandb: chunk with a bad CRC" in out.stdout
    r = runs(store)["resnet-a"]
    assert [h["_step"] for h in r.history(["train/loss"], pandas=False)] == [0, 2, 3, 4]
    assert r.state == "failed" and r.exit_code == 3  # records after the damage are all read


def test_records_spanning_blocks_are_joined(tmp_path):
    folder = fixture(tmp_path, "wandb")
    f = next(p for p in files(folder) if b"resnet-b" in p.read_bytes())
    data = f.read_bytes()
    recs, _, _, _ = records(data[HEADER_LEN:], HEADER_LEN)
    big = "x" * 100_000  # three 32 KiB blocks: FIRST, MIDDLE, MIDDLE, LAST chunks
    item = pb_len(2, b"notes_blob") + pb_len(16, json.dumps(big).encode())
    summary = pb_len(3, pb_len(1, item))
    body = [r for r, _ in recs]
    f.write_bytes(data[:HEADER_LEN] + encode(body[:3] + [summary] + body[3:]))
    store = tmp_path / "store"
    out = cli(str(f), store=store)
    assert out.returncode == 0, out.stdout + out.stderr
    r = runs(store)["resnet-b"]
    assert r.summary["notes_blob"] == big and r.state == "finished"
    assert [h["loss"] for h in r.history(["loss"], pandas=False)] == [2, 1.5]


def test_two_copies_of_one_run_stay_apart(tmp_path):
    folder = fixture(tmp_path, "wandb")
    shutil.copytree(folder / "wandb", tmp_path / "copy" / "wandb")
    store = tmp_path / "store"
    out = cli(str(folder), str(tmp_path / "copy"), store=store)
    assert out.returncode == 0 and "4 runs (4 new)" in out.stdout
    ids = {r.meta["origin"]["source_id"] for r in tracker.Api(store).runs()}
    assert len(ids) == 2 and len(tracker.Api(store).runs()) == 4


def test_not_a_wandb_file_is_an_error(tmp_path):
    bad = tmp_path / "run-abc.wandb"
    bad.write_bytes(b"hello, not a record stream")
    out = cli(str(bad), store=tmp_path / "store")
    assert out.returncode == 1 and "no :W&B header" in out.stderr and "Traceback" not in out.stderr


def test_a_linked_folder_given_is_walked_and_links_below_it_are_not(tmp_path):
    folder = fixture(tmp_path, "wandb")
    runs_dir = folder / "wandb"
    latest = sorted(runs_dir.iterdir())[-1]
    (runs_dir / "latest-run").symlink_to(latest, target_is_directory=True)  # as wandb makes it
    (tmp_path / "link").symlink_to(runs_dir, target_is_directory=True)
    out = cli(str(tmp_path / "link"), store=tmp_path / "store")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 runs (2 new)" in out.stdout


def test_a_record_with_wrong_wire_types_is_skipped_not_a_crash(tmp_path):
    folder = fixture(tmp_path, "wandb")
    f = next(p for p in files(folder) if b"resnet-b" in p.read_bytes())
    data = f.read_bytes()
    recs, _, _, _ = records(data[HEADER_LEN:], HEADER_LEN)
    bad = pb_len(7, pb_len(2, pb_len(1, b"x")))  # stats whose Timestamp.seconds is bytes, not a varint
    body = [r for r, _ in recs]
    f.write_bytes(data[:HEADER_LEN] + encode(body[:4] + [bad] + body[4:]))
    out = cli(str(f), store=tmp_path / "store")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "skipped 1 unreadable record: wandb: unreadable Record protobuf" in out.stdout
    assert runs(tmp_path / "store")["resnet-b"].state == "finished"


def test_a_histogram_in_history_becomes_histogram_media(tmp_path):
    """wandb.Histogram logs ``{"_type": "histogram", "values": counts, "bins": edges}`` in a
    history row: imported as a histogram like tracker.Histogram's, not counted as skipped."""
    folder = fixture(tmp_path, "wandb")
    f = next(p for p in files(folder) if b"resnet-b" in p.read_bytes())
    data = f.read_bytes()
    recs, _, _, _ = records(data[HEADER_LEN:], HEADER_LEN)
    hist = json.dumps({"_type": "histogram", "values": [1, 3, 2], "bins": [0.0, 0.5, 1.0, 1.5]})
    row = pb_len(2, pb_len(1, pb_len(2, b"_step") + pb_len(16, b"99"))
                 + pb_len(1, pb_len(2, b"weights") + pb_len(16, hist.encode())))
    body = [r for r, _ in recs]
    f.write_bytes(data[:HEADER_LEN] + encode(body[:4] + [row] + body[4:]))
    out = cli(str(f), store=tmp_path / "store")
    assert out.returncode == 0, out.stderr
    assert "non-numeric" not in out.stdout
    (h,) = runs(tmp_path / "store")["resnet-b"].media("weights")
    assert (h.kind, h.step) == ("histogram", 99)
    assert h.data["bins"] == [0.0, 0.5, 1.0, 1.5] and h.data["counts"] == [1, 3, 2]
