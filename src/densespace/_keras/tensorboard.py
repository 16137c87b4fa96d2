"""TensorBoard logs of a run: per-epoch scalars, and the HParams plugin's summaries.

Under ``out/tensorboard``:

* the top folder holds the HParams experiment: every hyperparameter of the spec with
  its domain, and the metrics (``score``, then the loss and the task's metrics,
  training and validation);
* ``trial-<id>``: one run per trial: the scalars of every epoch (step = the epoch's
  position in the trial, from 1; the first execution only), and, once the trial
  ends, its HParams session: the active hyperparameter values (keras-tuner's and
  densespace's bookkeeping ones left out), ``score`` (at the best epoch) and the
  session's status;
* ``retrain-<rank>``: one run per retrained model: its epochs, then ``test_<metric>``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp  # type: ignore[import-untyped]
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import summary as hparams_summary

from densespace import _domains, _files, _space
from densespace._results import TrialRecord, clean_values
from densespace._tasks import TASKS

if TYPE_CHECKING:
    from densespace._spec import Spec

#: The folder of the logs inside a results folder.
FOLDER = "tensorboard"
#: The scalar (and HParams metric) of a trial's score.
SCORE = "score"
#: The start of the names of the event files TensorFlow's summary writers create.
EVENTS = "events.out.tfevents."

_STATUS = {"completed": api_pb2.STATUS_SUCCESS, "failed": api_pb2.STATUS_FAILURE}


class EpochScalars(keras.callbacks.Callback):
    """Writes every epoch's logs (``loss``, ``val_loss``, ...) as scalars of one run.

    The run's folder is emptied of densespace's files when training begins: a trial that runs
    again (resumed after a crash) or a model retrained anew replaces its old run.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self._writer: Any = None
        self._epochs = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        _files.remove(self.folder.glob("*"))
        self._writer = tf.summary.create_file_writer(str(self.folder))
        self._epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epochs += 1
        with self._writer.as_default(step=self._epochs):
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, float(value))
        self._writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        _close(self._writer, self.folder)


class Board:
    """The ``tensorboard`` folder of a run.

    Args:
        root: The folder (``out/tensorboard``).
        spec: The effective spec: its hyperparameters and task name the HParams columns.
    """

    def __init__(self, root: Path, spec: Spec) -> None:
        self.root = root
        self.spec = spec

    @classmethod
    def started(cls, root: Path, spec: Spec) -> Board:
        """The board of a run, its HParams experiment written (again, the same, on a resumed run)."""
        board = cls(root, spec)
        board.write_experiment()
        return board

    def write_experiment(self) -> None:
        """Writes the HParams experiment summary (again, the same, on a resumed run)."""
        objective = self.spec.search.objective
        metrics = [
            hp.Metric(
                SCORE, display_name=f"score ({objective})", description="the objective at the best epoch"
            ),
            *(
                hp.Metric(name, description="at the last epoch")
                for name in TASKS[self.spec.task].objectives()
            ),
        ]
        hparams = [_hparam(h) for h in _space.hyperparameters(self.spec)]
        writer = tf.summary.create_file_writer(str(self.root))
        with writer.as_default():
            hp.hparams_config(hparams=hparams, metrics=metrics)
        _close(writer, self.root)

    def trial_run(self, trial_id: str) -> Path:
        """The run folder of a trial."""
        return self.root / f"trial-{trial_id}"

    def epochs(self, folder: Path) -> EpochScalars:
        """A callback writing one model's epochs into ``folder``."""
        return EpochScalars(folder)

    def trial_ended(self, record: TrialRecord) -> None:
        """Writes the HParams session of a finished trial: its values, score and status."""
        values = {
            k: v for k, v in clean_values(record.values).items() if isinstance(v, (bool, int, float, str))
        }
        now = time.time()
        writer = tf.summary.create_file_writer(str(self.trial_run(record.id)))
        with writer.as_default():
            hp.hparams(values, trial_id=record.id, start_time_secs=now - (record.seconds or 0.0))
            if record.score is not None:
                tf.summary.scalar(SCORE, record.score, step=record.best_epoch or 0)
            end = hparams_summary.session_end_pb(_STATUS.get(record.status, api_pb2.STATUS_UNKNOWN), now)
            tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=0)
        _close(writer, self.trial_run(record.id))

    def retrain_run(self, rank: int) -> Path:
        """The run folder of a retrained model."""
        return self.root / f"retrain-{rank}"

    def retrained(self, rank: int, metrics: dict[str, float], epochs: int) -> None:
        """Writes a retrained model's test metrics (``test_loss``, ...) at its last epoch."""
        writer = tf.summary.create_file_writer(str(self.retrain_run(rank)))
        with writer.as_default(step=epochs):
            for name, value in metrics.items():
                tf.summary.scalar(f"test_{name}", value)
        _close(writer, self.retrain_run(rank))


def _close(writer: Any, folder: Path) -> None:
    """Closes a summary writer and lists its event files in the results folder's manifest."""
    writer.close()
    _files.adopt(folder.glob(f"{EVENTS}*"))


def _hparam(h: _space.Hyperparameter) -> hp.HParam:
    """A densespace hyperparameter as an HParams column, with its domain where HParams has one."""
    d = h.domain
    domain: hp.Domain | None = None
    if isinstance(d, _domains.IntRange):
        domain = hp.IntInterval(int(d.min), int(d.max))
    elif isinstance(d, _domains.FloatRange):
        domain = hp.RealInterval(float(d.min), float(d.max))
    else:
        values = list(d.values)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            values = [float(v) for v in values]
        try:
            domain = hp.Discrete(values)
        except (TypeError, ValueError):  # mixed types (or null): HParams takes any value then
            domain = None
    condition = f" if {h.condition}" if h.condition else ""
    return hp.HParam(h.name, domain, description=f"{h.describe()}{condition}")
