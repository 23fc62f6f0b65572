"""Optional metric writers receive exactly the records of metrics.jsonl; TensorBoard gets them as scalars."""

import json

import pytest
from _train_toy import ToyTask, toy_batch

from genstyle_causal.train import TensorBoardWriter, TrainConfig, fit


class Recorder(list):
    closed = False

    def __call__(self, record):
        self.append(record)

    def close(self):
        self.closed = True


def _scalars(logdir, tag):
    """``(step, value)`` of one tag, read from the TFRecord event files (length, crc, Event proto, crc)."""
    from tensorboardX.proto import event_pb2

    out = []
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            size = int.from_bytes(data[at:at + 8], "little")
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + size])
            at += 12 + size + 4
            out += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
    return out


def test_writers_get_every_logged_record_and_are_closed(tmp_path):
    rec = Recorder()
    _, history = fit(ToyTask(), toy_batch, TrainConfig(steps=20, log_every=5, progress=False), workdir=tmp_path,
                     writers=[rec])
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rec == history == logged and [r["step"] for r in rec] == [5, 10, 15, 20] and rec.closed


def test_tensorboard_writer_writes_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    _, history = fit(ToyTask(), toy_batch, TrainConfig(steps=10, log_every=5, progress=False),
                     writers=[TensorBoardWriter(tmp_path / "tb")])
    scalars = _scalars(tmp_path / "tb", "loss")
    assert [s for s, _ in scalars] == [5, 10]
    assert [v for _, v in scalars] == pytest.approx([r["loss"] for r in history], rel=1e-6)
