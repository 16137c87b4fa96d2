"""Writes tiny CIFAR-10 copies in the official layouts, for the dataset tests."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

Split = tuple[np.ndarray, np.ndarray]

STEMS = (
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
)


def make_splits() -> tuple[Split, Split]:
    """100 training and 20 test images, random but for pixel [0, 0, 0], which holds the index.

    Labels cycle through 0-9, so every class has 10 training and 2 test images.
    """
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(120, 32, 32, 3), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(len(x))
    y = (np.arange(len(x)) % 10).astype(np.uint8)
    return (x[:100], y[:100]), (x[100:], y[100:])


def batches(train: Split, test: Split) -> dict[str, Split]:
    """The six batches, by stem: training images in five equal parts, then the test images."""
    parts = zip(np.array_split(train[0], 5), np.array_split(train[1], 5), strict=True)
    return dict(zip(STEMS, [*parts, test], strict=True))


def python_record(x: np.ndarray, y: np.ndarray) -> dict[bytes, object]:
    """One batch as the python version pickles it: channel-major rows, labels as a list."""
    return {
        b"batch_label": b"a test batch",
        b"labels": [int(label) for label in y],
        b"data": np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), 3072)),
        b"filenames": [b"image_%d.png" % i for i in range(len(x))],
    }


def write_python(root: Path, train: Split, test: Split) -> Path:
    """Writes ``root/cifar-10-batches-py/`` and returns it.

    Protocol 4, as Python 3 writes it; the official files are Python 2 pickles
    (protocol 2), which the tests get from build-cifar10.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for stem, (x, y) in batches(train, test).items():
        (folder / stem).write_bytes(pickle.dumps(python_record(x, y), protocol=4))
    meta = {b"label_names": [b"airplane"], b"num_cases_per_batch": len(test[1])}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))
    return folder


def binary_records(x: np.ndarray, y: np.ndarray) -> bytes:
    """One batch as the binary version stores it: a label byte, then the pixels plane by plane."""
    planes = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
    return np.concatenate([y[:, None], planes], axis=1).astype(np.uint8).tobytes()


def write_binary(root: Path, train: Split, test: Split) -> Path:
    """Writes ``root/cifar-10-batches-bin/`` and returns it."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for stem, (x, y) in batches(train, test).items():
        (folder / f"{stem}.bin").write_bytes(binary_records(x, y))
    (folder / "batches.meta.txt").write_text("airplane\n")
    return folder


def write_tar(folder: Path, archive: Path) -> Path:
    """Packs ``folder`` the way the official archives are packed, under its own name."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive
