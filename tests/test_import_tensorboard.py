"""``tracker-tui import`` of TensorBoard event files (written by tensorboardX and tensorboard's own
EventFileWriter: tests/data/importers/make_fixtures.py), read back through ``tracker.Api``;
torn and corrupt files are made here from copies of the real ones."""

from __future__ import annotations

import math
import struct
import time

import pytest
from import_helpers import cli, dec, expected, fixture, point_count, same, tb_scalar_event, tfrecords

import tracker
from tracker.store.importers.tfrecord import frames
from tracker.store.importers.wire import crc32c, crc32c_many, masked_crc32c


def runs(store):
    return {r.name: r for r in tracker.Api(store).runs()}


def check_against_fixture(store, names=("resnet-a", "tf2/resnet-b")):
    got_runs = runs(store)
    for w in expected("tensorboard")[:2]:
        r = got_runs[names[0] if w["run"] == "resnet-a" else names[1]]
        assert r.state == "finished" and r.meta["origin"]["format"] == "tensorboard"
        want = {(k, s): dec(v) for k, s, v in w["scalars"]}
        got = {(k, s): v for s, _, k, v in r.points()}
        assert got.keys() == want.keys()
        # simple_value and TF2's float tensors are float32: compare as TensorBoard reads them
        assert all(same(got[k], struct.unpack("<f", struct.pack("<f", want[k]))[0]) if k[0] != "lr" else
                   same(got[k], want[k]) for k in want), (got, want)
    return got_runs


def test_import_reads_back_what_tensorboard_wrote(tmp_path):
    logs = fixture(tmp_path, "tensorboard") / "logs"
    store = tmp_path / "store"
    out = cli(str(logs), store=store)
    assert out.returncode == 0, out.stderr
    assert "2 runs (2 new), 12 new points" in out.stdout
    assert "not imported" not in out.stdout
    got = check_against_fixture(store)
    a = got["resnet-a"]
    # tensorboardX's add_histogram("weights", np.arange(10.0), 3): a histogram like tracker.Histogram's
    (h,) = a.media("weights")
    assert (h.kind, h.step) == ("histogram", 3)
    bins, counts = h.data["bins"], h.data["counts"]
    assert sum(counts) == 10 and len(bins) == len(counts) + 1 and bins == sorted(bins)
    assert bins[0] == 0.0 and bins[-1] == 9.0
    assert a.project == "logs"
    assert a.config == {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                        for k, v in expected("tensorboard")[2]["hparams"].items()}
    assert math.isnan(a.history(["train/loss"], pandas=False)[2]["train/loss"])
    assert a.summary["val/acc"] == math.inf and a.summary["grad/norm"] == -math.inf
    assert got["tf2/resnet-b"].summary["lr"] == math.inf  # the float64 tensor_content scalar
    assert a.created_at <= a.finished_at


def test_reimport_adds_nothing(tmp_path):
    logs = fixture(tmp_path, "tensorboard") / "logs"
    store = tmp_path / "store"
    assert cli(str(logs), store=store).returncode == 0
    again = cli(str(logs), store=store)
    assert again.returncode == 0 and "2 runs (2 unchanged), 0 new points" in again.stdout
    assert len(runs(store)["resnet-a"].media("weights")) == 1
    assert point_count(store) == 12


def test_torn_tail_stops_cleanly_and_the_next_import_takes_the_rest(tmp_path):
    logs = fixture(tmp_path, "tensorboard") / "logs"
    f = next((logs / "resnet-a").glob("events*"))
    whole = f.read_bytes()
    now = time.time()
    extra = tfrecords([tb_scalar_event("train/loss", 10 + i, 1 / (i + 1), now + i) for i in range(3)])
    f.write_bytes(whole + extra[:-7])  # the writer is in the middle of its third record
    store = tmp_path / "store"
    out = cli(str(logs), store=store)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "stopped at an incomplete record" in out.stdout
    assert point_count(store) == 14
    f.write_bytes(whole + extra)
    out = cli(str(logs), store=store)
    assert out.returncode == 0 and ", 1 new points" in out.stdout and "1 updated" in out.stdout
    loss = [(s, v) for s, _, k, v in runs(store)["resnet-a"].points(["train/loss"]) if s >= 10]
    assert loss == [(10, 1.0), (11, 0.5), (12, struct.unpack("<f", struct.pack("<f", 1 / 3))[0])]


def test_corrupt_crc_in_the_middle_skips_that_record_only(tmp_path):
    logs = fixture(tmp_path, "tensorboard") / "logs"
    f = next((logs / "resnet-a").glob("events*"))
    data = bytearray(f.read_bytes())
    recs, _, _ = frames(bytes(data))
    s, e = recs[3]  # a scalar in the middle of the file
    data[e - 1] ^= 0xFF  # its float's last byte
    f.write_bytes(bytes(data))
    store = tmp_path / "store"
    out = cli(str(logs), store=store)
    assert out.returncode == 1
    assert "skipped 1 unreadable record: tensorboard: record with a bad CRC" in out.stdout
    assert point_count(store) == 11
    check_partial = {(k, s) for s, _, k, _ in runs(store)["resnet-a"].points()}
    assert len(check_partial) == 6


def test_damaged_length_resyncs_at_the_next_record(tmp_path):
    logs = fixture(tmp_path, "tensorboard") / "logs"
    f = next((logs / "resnet-a").glob("events*"))
    data = bytearray(f.read_bytes())
    recs, _, _ = frames(bytes(data))
    s, _ = recs[3]
    data[s - 12 + 5] ^= 0x40  # a high byte of its length: a huge length, its CRC wrong
    f.write_bytes(bytes(data))
    store = tmp_path / "store"
    out = cli(str(logs), store=store)
    assert out.returncode == 1
    assert "bad length CRC" in out.stdout
    assert point_count(store) == 11  # every other record, the ones after the damage included


def test_crc32c_matches_the_reference_and_bulk_matches_one_by_one():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)
    assert crc32c(b"") == 0
    recs = [bytes((i * 7 + j) & 0xFF for j in range(13)) for i in range(50)]
    assert crc32c_many(b"".join(recs), 13) == [crc32c(r) for r in recs]
    head = struct.pack("<Q", 42)
    assert masked_crc32c(head) == (((crc32c(head) >> 15) | (crc32c(head) << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_event_file_given_alone_and_a_logdir_with_nested_runs(tmp_path):
    logs = fixture(tmp_path, "tensorboard") / "logs"
    store = tmp_path / "store"
    f = next((logs / "tf2" / "resnet-b").glob("events*"))
    out = cli(str(f), "--format", "tensorboard", store=store)
    assert out.returncode == 0 and "1 runs (1 new), 5 new points" in out.stdout


@pytest.mark.parametrize("step", [0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**40, -5])
def test_steps_of_every_varint_length_read_exactly(tmp_path, step):
    """The second event of a tag takes the fast path (steps of 1-3 bytes read inline)."""
    run = tmp_path / "logs" / "r"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1.h").write_bytes(
        tfrecords([tb_scalar_event("x", step, 0.5, 1.0), tb_scalar_event("x", step + 1, 0.25, 2.0)]))
    store = tmp_path / "store"
    assert cli(str(tmp_path / "logs"), store=store).returncode == 0
    assert [(s, v) for s, _, _, v in runs(store)["r"].points()] == [(step, 0.5), (step + 1, 0.25)]


def test_a_record_longer_than_one_read_is_read_whole(tmp_path):
    from import_helpers import pb_len

    run = tmp_path / "logs" / "r"
    run.mkdir(parents=True)
    big = b"\x09" + struct.pack("<d", 1.0) + pb_len(6, pb_len(2, b"x" * 3_000_000))  # a 3 MB log message
    (run / "events.out.tfevents.1.h").write_bytes(
        tfrecords([tb_scalar_event("x", 1, 0.5, 1.0), big, tb_scalar_event("x", 2, 0.25, 2.0)]))
    store = tmp_path / "store"
    out = cli(str(tmp_path / "logs"), store=store)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 log messages not imported" in out.stdout
    assert [(s, v) for s, _, _, v in runs(store)["r"].points()] == [(1, 0.5), (2, 0.25)]


def test_tf2_histograms_plugin_tensors_become_histograms(tmp_path):
    """tensorboard's own histogram_pb (what tf.summary.histogram writes: a [k, 3] tensor of left
    edge, right edge, count): each step a histogram with every value counted, min to max."""
    logs = fixture(tmp_path, "tensorboard_hist") / "logs"
    store = tmp_path / "store"
    out = cli(str(logs), store=store)
    assert out.returncode == 0, out.stderr
    assert "not imported" not in out.stdout
    (want,) = expected("tensorboard_hist")
    got = runs(store)["tf2-hist"].media("weights")
    assert [(h.kind, h.step) for h in got] == [("histogram", w["step"]) for w in want["histograms"]["weights"]]
    for h, w in zip(got, want["histograms"]["weights"]):
        bins, counts = h.data["bins"], h.data["counts"]
        assert sum(counts) == w["count"] and len(bins) == len(counts) + 1
        assert bins[0] == w["min"] and bins[-1] == w["max"] and bins == sorted(bins)
