"""Writes tiny CIFAR-10 copies in the official layouts, and hostile ones, for the dataset tests."""

from __future__ import annotations

import gzip
import pickle
import signal
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
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


def write_tar(folder: Path, archive: Path, compression: str = "gz") -> Path:
    """Packs ``folder`` the way the official archives are packed (gzipped), under its own name."""
    with tarfile.open(archive, f"w:{compression}") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    """One GNU-format tar header for a member of ``size`` bytes, whatever the data after it."""
    member = tarfile.TarInfo(name)
    member.size, member.type = size, kind
    return member.tobuf(tarfile.GNU_FORMAT)


def sparse_header(name: str, real_size: int) -> bytes:
    """An old-GNU sparse member header that stores no data but reads as ``real_size`` bytes of holes."""
    block = bytearray(tar_header(name, 0, tarfile.GNUTYPE_SPARSE))
    block[483:495] = tarfile.itn(real_size, 12, tarfile.GNU_FORMAT)  # the size once read
    block[148:156] = b" " * 8  # the checksum counts its own field as spaces
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


def gzip_zeros(size: int, chunk: int = 2**24) -> bytes:
    """``size`` zero bytes gzipped in a blink: one compressed chunk, repeated as concatenated gzip members."""
    whole, rest = divmod(size, chunk)
    parts = gzip.compress(bytes(chunk), mtime=0) * whole if whole else b""
    return parts + gzip.compress(bytes(rest), mtime=0)


def write_gzip_tar(archive: Path, *blocks: bytes, zeros: int = 0) -> Path:
    """A gzipped tar of raw ``blocks``, then ``zeros`` zero bytes (a member's data, or the end of the archive)."""
    archive.write_bytes(gzip.compress(b"".join(blocks), mtime=0) + gzip_zeros(zeros + 1024))
    return archive


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fails the block with TimeoutError, rather than hanging the suite, once ``seconds`` have passed."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
