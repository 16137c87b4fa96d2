"""Tests for densespace.datasets: every CIFAR-10 source, the splits, hostile and broken files."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.cifar_archives import (
    STEMS,
    binary_records,
    deadline,
    make_splits,
    python_record,
    sparse_header,
    tar_header,
    write_binary,
    write_gzip_tar,
    write_python,
    write_tar,
)

from densespace._errors import DatasetError, quote
from densespace.datasets import CLASS_NAMES, ENV_VAR, _cifar10, load_cifar10

TRAIN, TEST = make_splits()  # 100 training images (10 per class), 20 test images
BUILD_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "build-cifar10"
EXPECTED = (
    "expected the python version (cifar-10-python.tar.gz or cifar-10-batches-py/) "
    "or the binary version (cifar-10-binary.tar.gz or cifar-10-batches-bin/) of CIFAR-10"
)
BAD_VALIDATION = "validation must be a fraction between 0 and 1 (exclusive) or 'test', got "
BAD_LIMIT = "limit must be an integer of at least 10 (one image per class) or None, got "


def write_source(kind: str, root: Path) -> Path:
    """Writes TRAIN and TEST as ``layout-packing``; archives get names that say nothing."""
    layout, packing = kind.split("-")
    folder = (write_python if layout == "python" else write_binary)(root, TRAIN, TEST)
    return write_tar(folder, root / f"download ({layout}).tgz") if packing == "tar" else folder


def ids(split: tuple[np.ndarray, np.ndarray]) -> list[int]:
    """The indices make_splits wrote into each image's first pixel."""
    return [int(i) for i in split[0][:, 0, 0, 0]]


def error_of(source: Path, **options: Any) -> str:
    """The text of the DatasetError that loading ``source`` raises."""
    with pytest.raises(DatasetError) as caught:
        load_cifar10(source, **options)
    return str(caught.value)


@pytest.mark.parametrize("kind", ["python-dir", "python-tar", "binary-dir", "binary-tar"])
def test_reads_each_layout(kind: str, tmp_path: Path) -> None:
    """Each layout, folder or archive, loads to exactly the images and labels written."""
    source = write_source(kind, tmp_path)
    data = load_cifar10(source, validation="test")
    for (x, y), (want_x, want_y) in [(data.train, TRAIN), (data.test, TEST)]:
        assert x.dtype == np.uint8 and x.flags.c_contiguous and x.shape == want_x.shape
        assert y.dtype == np.uint8 and y.shape == want_y.shape
        np.testing.assert_array_equal(x, want_x)
        np.testing.assert_array_equal(y, want_y)
    assert data.source == str(source.resolve())
    assert data.class_names == CLASS_NAMES and len(CLASS_NAMES) == 10


def test_reads_python_batches_pickled_in_fortran_order(tmp_path: Path) -> None:
    """A python batch whose pixel array was pickled in Fortran order loads like any other."""
    folder = write_python(tmp_path, TRAIN, TEST)
    record = python_record(TEST[0], TEST[1])
    record[b"data"] = np.asfortranarray(record[b"data"])
    (folder / "test_batch").write_bytes(pickle.dumps(record, protocol=4))
    np.testing.assert_array_equal(load_cifar10(folder, validation="test").test[0], TEST[0])


@pytest.mark.parametrize("row_bytes", [3072, 3073], ids=["python-rows", "binary-records"])
def test_channel_interleave_matches_numpy_transpose(row_bytes: int) -> None:
    """The copy turns channel-major rows, packed or one label byte apart, into channels-last."""
    rows = np.random.default_rng(0).integers(0, 256, (37, row_bytes), dtype=np.uint8)
    pixels = rows[:, row_bytes - 3072 :]
    target = np.empty((37, 1024, 3), dtype=np.uint8)
    _cifar10._to_channels_last(pixels, target)
    np.testing.assert_array_equal(target, pixels.reshape(37, 3, 1024).transpose(0, 2, 1))


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("python-tar", "cifar-10-python.tar.gz"),
        ("python-dir", "cifar-10-batches-py"),
        ("binary-tar", "cifar-10-binary.tar.gz"),
        ("binary-dir", "cifar-10-batches-bin"),
    ],
)
def test_reads_the_folder_holding_a_copy(kind: str, name: str, tmp_path: Path) -> None:
    """A folder holding a copy under its official name, like build-cifar10's output, is searched."""
    (tmp_path / "parent").mkdir()
    write_source(kind, tmp_path / "build").rename(tmp_path / "parent" / name)
    data = load_cifar10(tmp_path / "parent", validation="test")
    assert data.source == str((tmp_path / "parent" / name).resolve())
    np.testing.assert_array_equal(data.train[0], TRAIN[0])


@pytest.mark.slow
def test_folder_holding_both_layouts_reads_the_binary_one(tmp_path: Path) -> None:
    """With both extracted folders side by side, the binary one is read since it loads fastest."""
    write_source("python-dir", tmp_path)
    folder = write_source("binary-dir", tmp_path)
    assert load_cifar10(tmp_path).source == str(folder.resolve())


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both official layouts as build-cifar10 writes them, 20 images per batch (about 15 s)."""
    if not BUILD_TOOL.exists():
        pytest.skip(f"{BUILD_TOOL} is absent (CI has it in ../shared beside the clone)")
    if importlib.util.find_spec("PIL") is None:
        pytest.skip("build-cifar10 needs Pillow, which is not installed")
    out = tmp_path_factory.mktemp("official")
    command = [sys.executable, str(BUILD_TOOL), str(out), "--limit", "20"]
    subprocess.run(command, check=True, capture_output=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "cifar-10-python.tar.gz",
        "cifar-10-batches-py",
        "cifar-10-binary.tar.gz",
        "cifar-10-batches-bin",
        ".",
    ],
)
def test_official_layouts_agree(official: Path, name: str) -> None:
    """Every layout build-cifar10 writes loads to a plain numpy decode of its python batches."""
    decoded = []
    for stem in STEMS:
        with (official / "cifar-10-batches-py" / stem).open("rb") as f:
            batch = pickle.load(f, encoding="bytes")  # trusted: the tool wrote it just now
        x = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        decoded.append((x, np.array(batch[b"labels"])))
    data = load_cifar10(official / name, validation="test")
    np.testing.assert_array_equal(data.train[0], np.concatenate([x for x, _ in decoded[:5]]))
    np.testing.assert_array_equal(data.train[1], np.concatenate([y for _, y in decoded[:5]]))
    np.testing.assert_array_equal(data.test[0], decoded[5][0])
    np.testing.assert_array_equal(data.test[1], decoded[5][1])


def test_default_split_holds_out_a_stratified_tenth(tmp_path: Path) -> None:
    """By default a tenth of the training images, one per class here, is held out for validation."""
    data = load_cifar10(write_source("binary-dir", tmp_path))
    assert np.bincount(data.validation[1], minlength=10).tolist() == [1] * 10
    assert np.bincount(data.train[1], minlength=10).tolist() == [9] * 10
    assert sorted(ids(data.train) + ids(data.validation)) == ids(TRAIN)
    assert ids(data.test) == ids(TEST)
    for x, y in (data.train, data.validation):
        np.testing.assert_array_equal(y, TRAIN[1][ids((x, y))])


def test_seed_fixes_the_split(tmp_path: Path) -> None:
    """The same seed gives the same validation images and fingerprint, another seed others."""
    source = write_source("binary-dir", tmp_path)
    first, again, other = (load_cifar10(source, seed=seed) for seed in (0, 0, 1))
    assert ids(first.validation) == ids(again.validation) != ids(other.validation)
    assert first.fingerprint == again.fingerprint != other.fingerprint


def test_validation_test_reuses_the_test_split(tmp_path: Path) -> None:
    """validation="test" keeps every training image and validates on the test images."""
    data = load_cifar10(write_source("binary-dir", tmp_path), validation="test")
    assert ids(data.train) == ids(TRAIN)
    assert data.validation is data.test


@pytest.mark.parametrize("validation", [0.1, 0.5, "test"])
def test_limit_keeps_one_image_per_class(validation: Any, tmp_path: Path) -> None:
    """limit=10 keeps one image per class in every split; "test" still validates on test."""
    data = load_cifar10(write_source("python-dir", tmp_path), validation=validation, limit=10)
    for _, y in (data.train, data.validation, data.test):
        assert sorted(y.tolist()) == list(range(10))
    assert (data.validation is data.test) == (validation == "test")


def test_limit_above_a_split_keeps_it_whole(tmp_path: Path) -> None:
    """A limit larger than a split leaves that split as it is."""
    data = load_cifar10(write_source("binary-dir", tmp_path), limit=50)
    assert [len(y) for _, y in (data.train, data.validation, data.test)] == [50, 10, 20]


def test_fingerprint_hashes_every_array(tmp_path: Path) -> None:
    """The fingerprint is 16 hex digits of sha256 over dtype, shape and bytes of the six arrays."""
    data = load_cifar10(write_source("binary-dir", tmp_path))
    digest = hashlib.sha256()
    for array in (*data.train, *data.validation, *data.test):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    assert data.fingerprint == digest.hexdigest()[:16]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"validation": 0}, BAD_VALIDATION + "0"),
        ({"validation": 1.0}, BAD_VALIDATION + "1.0"),
        ({"validation": -0.2}, BAD_VALIDATION + "-0.2"),
        ({"validation": "train"}, BAD_VALIDATION + "'train'"),
        ({"validation": True}, BAD_VALIDATION + "True"),
        ({"limit": 9}, BAD_LIMIT + "9"),
        ({"limit": 100.0}, BAD_LIMIT + "100.0"),
        ({"limit": True}, BAD_LIMIT + "True"),
        (
            {"validation": 0.001},
            "validation=0.001 of 100 training images leaves 100 for training and 0 for "
            "validation; each needs at least one",
        ),
        (
            {"validation": 0.999},
            "validation=0.999 of 100 training images leaves 0 for training and 100 for "
            "validation; each needs at least one",
        ),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str, tmp_path: Path) -> None:
    """Out-of-range options raise DatasetError saying what was received."""
    assert error_of(write_source("binary-dir", tmp_path), **options) == message


def test_environment_variable_names_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a source, $DENSESPACE_CIFAR10 is read; an explicit source wins over it."""
    archive = write_source("binary-tar", tmp_path)
    monkeypatch.setenv(ENV_VAR, str(archive))
    assert load_cifar10().source == str(archive.resolve())
    folder = write_source("python-dir", tmp_path / "other")
    assert load_cifar10(folder).source == str(folder.resolve())


def fake_keras(monkeypatch: pytest.MonkeyPatch, download: Callable[[], Any]) -> None:
    """Stands in for densespace._keras (its io module), so these tests never import Keras."""
    package = types.ModuleType("densespace._keras")
    package.__path__ = []  # type: ignore[attr-defined]  # a package, so that .io imports from it
    module = types.ModuleType("densespace._keras.io")

    def download_dataset(name: str) -> Any:
        assert name == "cifar10"
        return download()

    module.download_dataset = download_dataset  # type: ignore[attr-defined]
    package.io = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "densespace._keras", package)
    monkeypatch.setitem(sys.modules, "densespace._keras.io", module)


def keras_style(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A split as keras' load_data returns it: a transposed channel-major view, labels (N, 1)."""
    x, y = split
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1), y[:, None]


@pytest.mark.parametrize("env", [None, ""])
def test_no_source_uses_keras(env: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no source and $DENSESPACE_CIFAR10 unset or empty, keras' copy is loaded."""
    if env is None:
        monkeypatch.delenv(ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(ENV_VAR, env)
    fake_keras(monkeypatch, lambda: (keras_style(TRAIN), keras_style(TEST)))
    data = load_cifar10(validation="test")
    assert data.source == "keras"
    assert data.train[0].flags.c_contiguous and data.train[1].shape == (100,)
    np.testing.assert_array_equal(data.train[0], TRAIN[0])
    np.testing.assert_array_equal(data.test[1], TEST[1])


def test_failed_download_says_how_to_use_a_local_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """When keras cannot download, the error names --data and the environment variable."""

    def offline() -> None:
        raise Exception("URL fetch failure on https://example.org/: -3 name resolution")

    monkeypatch.delenv(ENV_VAR, raising=False)
    fake_keras(monkeypatch, offline)
    with pytest.raises(DatasetError) as caught:
        load_cifar10()
    assert str(caught.value) == (
        "cannot download CIFAR-10 through keras (URL fetch failure on https://example.org/: -3 "
        "name resolution); point densespace at a local copy instead with --data PATH or "
        "DENSESPACE_CIFAR10=PATH, where PATH is cifar-10-python.tar.gz, cifar-10-binary.tar.gz "
        "or the folder either one extracts to"
    )


@pytest.mark.parametrize("kind", ["python-tar", "binary-dir"])
@pytest.mark.slow
def test_local_files_never_import_tensorflow(kind: str, tmp_path: Path) -> None:
    """Loading a local copy in a fresh interpreter imports neither keras nor tensorflow."""
    code = (
        "import sys; from densespace.datasets import load_cifar10; load_cifar10(sys.argv[1]); "
        "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    )
    command = [sys.executable, "-c", code, str(write_source(kind, tmp_path))]
    run = subprocess.run(command, check=True, capture_output=True, text=True)
    assert run.stdout.strip() == "[]"


class Payload:
    """Pickles as the call ``func(arg)``, the way a hostile batch file runs code."""

    def __init__(self, func: Callable[[Any], Any], arg: Any) -> None:
        self.func, self.arg = func, arg

    def __reduce__(self) -> tuple[Any, ...]:
        return self.func, (self.arg,)


@pytest.mark.parametrize("packing", ["dir", "tar"])
@pytest.mark.parametrize(
    ("func", "protocol", "refused"),
    [
        (os.system, 2, "posix.system"),
        (eval, 2, "__builtin__.eval"),
        (eval, 4, "builtins.eval"),
        (subprocess.check_call, 4, "subprocess.check_call"),
        (np.load, 2, "numpy.load"),
    ],
)
def test_hostile_pickle_is_refused_unrun(
    func: Callable[[Any], Any], protocol: int, refused: str, packing: str, tmp_path: Path
) -> None:
    """A pickle calling anything but numpy's array rebuild is refused before the call runs."""
    marker = tmp_path / "ran"
    arg = {
        os.system: f"touch {marker}",
        eval: f"open({str(marker)!r}, 'w')",
        subprocess.check_call: ["touch", str(marker)],
        np.load: str(marker),
    }[func]
    folder = write_python(tmp_path, TRAIN, TEST)
    (folder / "data_batch_2").write_bytes(pickle.dumps(Payload(func, arg), protocol=protocol))
    if packing == "tar":
        source = write_tar(folder, tmp_path / "hostile.tar.gz")
        where = f"{source} (member cifar-10-batches-py/data_batch_2)"
    else:
        source, where = folder, f"{folder}/data_batch_2"
    assert error_of(source) == (
        f"{where}: refusing to unpickle the global {refused}; CIFAR-10 batches only use "
        "numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype"
    )
    assert not marker.exists()


def python_with(**fields: object) -> dict[bytes, object]:
    """A valid python-version record of the 20 test images with some fields replaced."""
    record = python_record(*TEST)
    record.update({key.encode(): value for key, value in fields.items()})
    return record


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            python_with(labels=[*TEST[1][:5].tolist(), -1, *TEST[1][6:].tolist()]),
            "label -1 of image 5 is not a class id 0-9",
        ),
        (
            python_with(data=np.zeros((20, 3071), np.uint8)),
            "b'data' must be a uint8 array of shape (N, 3072), got uint8 (20, 3071)",
        ),
        (
            python_with(data=np.zeros((20, 3072), np.float32)),
            "b'data' must be a uint8 array of shape (N, 3072), got float32 (20, 3072)",
        ),
        (python_with(labels=TEST[1][:19].tolist()), "19 labels for 20 images"),
        (python_with(labels=[b"cat"] * 20), "b'labels' must be a list of int class ids"),
        ([1, 2, 3], "expected a dict with b'data' and b'labels', got a list"),
        (
            {b"data": np.zeros((20, 3072), np.uint8)},
            "expected a dict with b'data' and b'labels', got a dict with keys [b'data']",
        ),
        (b"\x80\x02}q\x00(U\x04dat", "not a readable pickle (EOFError: the pickle ends early)"),
    ],
    ids=["label", "shape", "dtype", "count", "label-type", "list", "keys", "garbage"],
)
def test_damaged_python_batch_is_named(content: object, problem: str, tmp_path: Path) -> None:
    """A python-version batch with wrong fields raises DatasetError naming the file and field."""
    folder = write_python(tmp_path, TRAIN, TEST)
    raw = content if isinstance(content, bytes) else pickle.dumps(content, protocol=4)
    (folder / "data_batch_4").write_bytes(raw)
    assert error_of(folder).startswith(f"{folder.resolve()}/data_batch_4: {problem}")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            binary_records(*TEST) + b"\0",
            "61461 bytes is not a whole number of 3073-byte records (1 label byte + 3072 pixel bytes each)",
        ),
        (
            b"",
            "0 bytes is not a whole number of 3073-byte records (1 label byte + 3072 pixel bytes each)",
        ),
        (
            binary_records(TEST[0], np.where(np.arange(20) == 3, 10, TEST[1])),
            "label 10 of image 3 is not a class id 0-9",
        ),
    ],
    ids=["record-size", "empty", "label"],
)
def test_damaged_binary_batch_is_named(content: bytes, problem: str, tmp_path: Path) -> None:
    """A binary-version batch of the wrong size or with a bad label names the file and problem."""
    folder = write_binary(tmp_path, TRAIN, TEST)
    (folder / "data_batch_1.bin").write_bytes(content)
    assert error_of(folder) == f"{folder.resolve()}/data_batch_1.bin: {problem}"


@pytest.mark.parametrize(
    ("name", "kind", "problem"),
    [
        ("cifar-10-batches-py/data_batch_1", tarfile.SYMTYPE, "it is a symbolic link"),
        ("data_batch_1", tarfile.LNKTYPE, "it is a hard link"),
        ("dev/zero", tarfile.CHRTYPE, "it is a character device"),
        ("dev/sda", tarfile.BLKTYPE, "it is a block device"),
        ("pipe", tarfile.FIFOTYPE, "it is a FIFO"),
        ("cifar/../../data_batch_1", tarfile.REGTYPE, "its path leaves the archive"),
        ("/tmp/data_batch_1", tarfile.REGTYPE, "its path leaves the archive"),
    ],
    ids=["symlink", "hard-link", "char-device", "block-device", "fifo", "dot-dot", "absolute"],
)
def test_unsafe_archive_member_is_refused(name: str, kind: bytes, problem: str, tmp_path: Path) -> None:
    """Links, devices and members whose path leaves the archive are refused by name."""
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, "/etc/passwd" if member.issym() or member.islnk() else ""
    archive = tmp_path / "unsafe.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(member, io.BytesIO(b"") if member.isfile() else None)
    suffix = ", not a regular file or folder" if problem.startswith("it is") else ""
    assert error_of(archive) == f"{archive}: refusing member {name!r}: {problem}{suffix}"


def _missing_path(tmp: Path) -> tuple[Path, str]:
    return tmp / "nowhere", f"{tmp}/nowhere: no such file or folder; {EXPECTED}"


def _empty_folder(tmp: Path) -> tuple[Path, str]:
    return tmp, f"{tmp}: no CIFAR-10 batches here; {EXPECTED}"


def _not_a_tar(tmp: Path) -> tuple[Path, str]:
    (tmp / "notes.txt").write_text("not an archive")
    return tmp / "notes.txt", f"{tmp}/notes.txt: not a tar archive (or a truncated one); {EXPECTED}"


def _truncated_archive(tmp: Path) -> tuple[Path, str]:
    archive = write_source("python-tar", tmp)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    return archive, f"{archive}: the archive is truncated or corrupt ("


def _unrelated_archive(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "readme.html").write_text("hello")
    archive = write_tar(tmp / "docs", tmp / "docs.tar.gz")
    return archive, f"{archive}: no CIFAR-10 batches among its members; {EXPECTED}"


def _missing_batch(tmp: Path) -> tuple[Path, str]:
    folder = write_python(tmp, TRAIN, TEST)
    (folder / "data_batch_3").unlink()
    return folder, f"{folder}: the python version of CIFAR-10 is missing data_batch_3"


def _missing_batch_in_archive(tmp: Path) -> tuple[Path, str]:
    folder = write_binary(tmp, TRAIN, TEST)
    (folder / "test_batch.bin").unlink()
    archive = write_tar(folder, tmp / "cifar.tgz")
    return archive, f"{archive}: the binary version of CIFAR-10 is missing test_batch.bin"


def _batch_twice(tmp: Path) -> tuple[Path, str]:
    folder = write_binary(tmp, TRAIN, TEST)
    archive = tmp / "twice.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="a")
        tar.add(folder / "test_batch.bin", arcname="b/test_batch.bin")
    return archive, f"{archive}: holds test_batch.bin twice (again as b/test_batch.bin)"


BROKEN = [
    _missing_path,
    _empty_folder,
    _not_a_tar,
    _truncated_archive,
    _unrelated_archive,
    _missing_batch,
    _missing_batch_in_archive,
    _batch_twice,
]


@pytest.mark.parametrize("build", BROKEN, ids=[build.__name__.strip("_") for build in BROKEN])
def test_broken_source_is_named(build: Callable[[Path], tuple[Path, str]], tmp_path: Path) -> None:
    """A missing, foreign, truncated or incomplete source raises DatasetError naming it."""
    source, message = build(tmp_path.resolve())
    assert error_of(source).startswith(message)


BINARY_LIMIT = "at most 30,730,000 bytes: 10,000 records of 3073 bytes"
PYTHON_LIMIT = (
    "at most 31,778,576 bytes: the 30,730,000 of a binary batch and 1,048,576 for file names and "
    "pickle opcodes"
)
NOT_A_TAR = f"not a tar archive (or a truncated one); {EXPECTED}"
LOOP = "cannot follow it: a loop of symbolic links"


@pytest.mark.parametrize(
    ("layout", "name", "problem"),
    [
        ("binary", "data_batch_1.bin", f"is more than a batch of the binary version holds ({BINARY_LIMIT})"),
        ("python", "data_batch_1", f"is more than a batch of the python version holds ({PYTHON_LIMIT})"),
    ],
)
def test_batch_file_larger_than_a_batch_is_refused_unread(
    layout: str, name: str, problem: str, tmp_path: Path
) -> None:
    """A sparse 10 GiB batch file (no disk used) is refused by its size, before a byte is read."""
    folder = write_source(f"{layout}-dir", tmp_path)
    with (folder / name).open("r+b") as f:
        f.truncate(10 * 2**30)
    with deadline(5):
        assert error_of(folder) == f"{folder.resolve()}/{name}: 10737418240 bytes {problem}"


@pytest.mark.parametrize("size", [4 * 2**20, 10 * 2**30], ids=["4MiB-written", "10GiB-sparse"])
def test_all_zero_file_is_refused_at_once(size: int, tmp_path: Path) -> None:
    """An all-zero file is told from a tar archive by its first bytes, not scanned as xz padding."""
    zeros = tmp_path / "zeros.tar.xz"
    with zeros.open("wb") as f:
        if size < 2**30:
            f.write(bytes(size))
        else:
            f.truncate(size)
    start = time.perf_counter()
    with deadline(5):
        assert error_of(zeros) == f"{zeros}: {NOT_A_TAR}"
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", ""], ids=["gz", "bz2", "xz", "plain"])
def test_reads_each_compression(compression: str, tmp_path: Path) -> None:
    """The compression is told from the first bytes: gzip, bzip2, xz or a plain ustar tar."""
    archive = write_tar(write_binary(tmp_path, TRAIN, TEST), tmp_path / "cifar", compression)
    np.testing.assert_array_equal(load_cifar10(archive, validation="test").test[0], TEST[0])


def _binary_member_over_the_cap(tmp: Path) -> tuple[Path, str]:
    archive = write_tar(write_binary(tmp, TRAIN, TEST), tmp / "big.tgz")  # 20 records a batch, 19 allowed
    limit = "at most 58,387 bytes: 19 records of 3073 bytes"
    where = f"{archive} (member cifar-10-batches-bin/data_batch_1.bin)"
    return archive, f"{where}: 61460 bytes is more than a batch of the binary version holds ({limit})"


def _python_member_over_the_cap(tmp: Path) -> tuple[Path, str]:
    folder = write_python(tmp, TRAIN, TEST)
    size = (folder / "data_batch_1").stat().st_size
    archive = write_tar(folder, tmp / "big.tgz")
    limit = "at most 59,387 bytes: the 58,387 of a binary batch and 1,000 for file names and pickle opcodes"
    where = f"{archive} (member cifar-10-batches-py/data_batch_1)"
    return archive, f"{where}: {size} bytes is more than a batch of the python version holds ({limit})"


def _other_member_over_the_cap(tmp: Path) -> tuple[Path, str]:
    (tmp / "docs").mkdir()
    (tmp / "docs" / "readme.html").write_bytes(bytes(60_000))
    archive = write_tar(tmp / "docs", tmp / "docs.tgz")
    problem = "it is 60000 bytes, more than any file of CIFAR-10 (at most 59,387 bytes)"
    return archive, f"{archive}: refusing member 'docs/readme.html': {problem}"


def _batch_member_claiming_2gib(tmp: Path) -> tuple[Path, str]:
    archive = write_gzip_tar(tmp / "claims.tgz", tar_header("cifar-10-batches-bin/data_batch_1.bin", 2**31))
    where = f"{archive} (member cifar-10-batches-bin/data_batch_1.bin)"
    return (
        archive,
        f"{where}: 2147483648 bytes is more than a batch of the binary version holds ({BINARY_LIMIT})",
    )


def _sparse_member(tmp: Path) -> tuple[Path, str]:
    archive = write_gzip_tar(
        tmp / "sparse.tgz", sparse_header("cifar-10-batches-py/data_batch_1", 10 * 2**30)
    )
    problem = "it is a sparse file, which CIFAR-10 archives never hold"
    return archive, f"{archive}: refusing member 'cifar-10-batches-py/data_batch_1': {problem}"


def _pax_header_claiming_2gib(tmp: Path) -> tuple[Path, str]:
    archive = write_gzip_tar(tmp / "pax.tgz", tar_header("././@PaxHeader", 2**31, tarfile.XHDTYPE))
    problem = "a member's tar headers take 2147484160 bytes, more than the 65,536 allowed"
    return archive, f"{archive}: {problem} (a CIFAR-10 member needs 512)"


def _name_longer_than_the_header_cap(tmp: Path) -> tuple[Path, str]:
    member = tarfile.TarInfo("cifar-10-batches-bin/" + "x" * 70_000)
    headers = member.tobuf(tarfile.PAX_FORMAT)  # a pax header block and its records, then the ustar block
    archive = write_gzip_tar(tmp / "long.tgz", headers)
    problem = f"a member's tar headers take {len(headers) - 512} bytes, more than the 65,536 allowed"
    return archive, f"{archive}: {problem} (a CIFAR-10 member needs 512)"


def _long_name_leaving_the_archive(tmp: Path) -> tuple[Path, str]:
    name = "../" + "\n" * 20_000 + "data_batch_1.bin"
    archive = write_gzip_tar(tmp / "long.tgz", tarfile.TarInfo(name).tobuf(tarfile.PAX_FORMAT))
    return archive, f"{archive}: refusing member {quote(repr(name))}: its path leaves the archive"


def _too_many_members(tmp: Path) -> tuple[Path, str]:
    archive = write_gzip_tar(tmp / "many.tgz", *(tar_header(f"m/{i}", 0) for i in range(1001)))
    return archive, f"{archive}: holds more than 1,000 members (the CIFAR-10 archives hold 9)"


def _stream_over_the_total(tmp: Path) -> tuple[Path, str]:
    archive = write_tar(write_binary(tmp, TRAIN, TEST), tmp / "cifar.tgz")  # 6 batches, room for 2
    problem = "holds more than 122,920 bytes of tar data, more than CIFAR-10 needs"
    return archive, f"{archive}: {problem} (2 files of at most 61,460 bytes)"


def _fifo_as_source(tmp: Path) -> tuple[Path, str]:
    os.mkfifo(tmp / "pipe")
    return tmp / "pipe", f"{tmp}/pipe: it is a FIFO, not a regular file or folder; {EXPECTED}"


def _dev_zero_as_source(tmp: Path) -> tuple[Path, str]:
    return Path("/dev/zero"), f"/dev/zero: it is a character device, not a regular file or folder; {EXPECTED}"


def _fifo_as_batch(tmp: Path) -> tuple[Path, str]:
    folder = write_binary(tmp, TRAIN, TEST)
    (folder / "data_batch_3.bin").unlink()
    os.mkfifo(folder / "data_batch_3.bin")
    return folder, f"{folder}/data_batch_3.bin: it is a FIFO, not a regular file"


def _dev_zero_as_batch(tmp: Path) -> tuple[Path, str]:
    folder = write_python(tmp, TRAIN, TEST)
    (folder / "data_batch_2").unlink()
    (folder / "data_batch_2").symlink_to("/dev/zero")
    return folder, f"{folder}/data_batch_2: it is a character device, not a regular file"


def _symlink_loop_as_source(tmp: Path) -> tuple[Path, str]:
    (tmp / "a").symlink_to(tmp / "b")
    (tmp / "b").symlink_to(tmp / "a")
    return tmp / "a", f"{tmp}/a: {LOOP}"


def _symlink_loop_as_batch(tmp: Path) -> tuple[Path, str]:
    folder = write_binary(tmp, TRAIN, TEST)
    (folder / "test_batch.bin").unlink()
    (folder / "test_batch.bin").symlink_to(folder / "test_batch.bin")
    return folder, f"{folder}/test_batch.bin: {LOOP}"


def _folder_linking_to_itself(tmp: Path) -> tuple[Path, str]:
    (tmp / "cifar-10-batches-bin").symlink_to(tmp)
    return tmp, f"{tmp}/cifar-10-batches-bin: no CIFAR-10 batches here; {EXPECTED}"


SMALL_CAPS = {"_MAX_RECORDS": 19, "_PICKLE_ALLOWANCE": 1000, "_MAX_ARCHIVE_FILES": 2}
HOSTILE = [
    (_binary_member_over_the_cap, SMALL_CAPS),
    (_python_member_over_the_cap, SMALL_CAPS),
    (_other_member_over_the_cap, SMALL_CAPS),
    (_stream_over_the_total, {**SMALL_CAPS, "_MAX_RECORDS": 20, "_PICKLE_ALLOWANCE": 0}),
    (_batch_member_claiming_2gib, {}),
    (_sparse_member, {}),
    (_pax_header_claiming_2gib, {}),
    (_name_longer_than_the_header_cap, {}),
    (_long_name_leaving_the_archive, {}),
    (_too_many_members, {}),
    (_fifo_as_source, {}),
    (_dev_zero_as_source, {}),
    (_fifo_as_batch, {}),
    (_dev_zero_as_batch, {}),
    (_symlink_loop_as_source, {}),
    (_symlink_loop_as_batch, {}),
    (_folder_linking_to_itself, {}),
]


@pytest.mark.parametrize(("build", "caps"), HOSTILE, ids=[build.__name__.strip("_") for build, _ in HOSTILE])
def test_hostile_source_is_refused_at_once(
    build: Callable[[Path], tuple[Path, str]],
    caps: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Oversized, sparse, endless or special sources are refused by their headers or stat, never read whole."""
    for name, value in caps.items():  # lowered bounds keep the files tiny
        monkeypatch.setattr(_cifar10, name, value)
    source, message = build(tmp_path.resolve())
    with deadline(5):
        assert error_of(source) == message


def test_symlink_loop_as_data_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`densespace tune --data LOOP` prints one error line and exits 2, not an unexpected RuntimeError."""
    from densespace._cli import main  # the CLI, only here: the loaders above need none of it

    source, message = _symlink_loop_as_source(tmp_path.resolve())
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"version": 1, "name": "t", "hidden": {"units": 8}}))
    assert main(["tune", str(spec), "--data", str(source), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"densespace: error: {message}\n"


class Reduced:
    """Pickles as ``func(*args)``, then ``state`` set on the result: any object a pickle can describe."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], state: Any = None) -> None:
        self.reduced = (func, args) if state is None else (func, args, state)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduced


RECONSTRUCT = np.empty(0).__reduce__()[0]
HOSTILE_PICKLES = {
    # LONG_BINPUT 2**31 - 1: the C unpickler grows its memo array to 2**32 entries, 32 GiB
    "memo-index": (
        b"\x80\x02Nr\xff\xff\xff\x7f.",
        "expected a dict with b'data' and b'labels', got a NoneType",
    ),
    # an object array whose state lists 2 items for 10**6: numpy's own rebuild crashes the interpreter
    "object-array": (
        pickle.dumps(
            {
                b"data": Reduced(
                    RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10**6,), np.dtype(object), False, [1, 2])
                ),
                b"labels": [],
            },
            protocol=4,
        ),
        "not a readable pickle (UnpicklingError: refusing a numpy array of dtype object; CIFAR-10 batches "
        "hold numeric arrays)",
    ),
    # numpy's _reconstruct allocates whatever shape it is given: 30 GB here
    "huge-shape": (
        pickle.dumps(
            {b"data": Reduced(RECONSTRUCT, (np.ndarray, (10**7, 3072), b"B")), b"labels": []}, protocol=4
        ),
        "b'data' must be a uint8 array of shape (N, 3072), got a numpy array without its data",
    ),
    # an array whose shape claims more bytes than its data holds
    "short-data": (
        pickle.dumps(
            {
                b"data": Reduced(
                    RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (10**7, 3072), np.dtype(np.uint8), False, b"x")
                ),
                b"labels": [],
            },
            protocol=4,
        ),
        "not a readable pickle (UnpicklingError: a numpy array of shape (10000000, 3072) and dtype uint8 "
        "needs 30720000000 bytes, got 1)",
    ),
}


@pytest.mark.parametrize(("content", "problem"), HOSTILE_PICKLES.values(), ids=HOSTILE_PICKLES.keys())
def test_hostile_pickle_is_refused_unbuilt(content: bytes, problem: str, tmp_path: Path) -> None:
    """Pickles that would make the unpickler or numpy allocate gigabytes, or crash, are refused."""
    folder = write_python(tmp_path, TRAIN, TEST)
    (folder / "data_batch_5").write_bytes(content)
    assert error_of(folder) == f"{folder.resolve()}/data_batch_5: {problem}"


def test_pickle_running_too_many_opcodes_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pickle of endless one-byte opcodes is stopped at the opcode bound (lowered here), not run for seconds."""
    monkeypatch.setattr(_cifar10, "_MAX_PICKLE_OPS", 1000)
    folder = write_python(tmp_path, TRAIN, TEST)
    (folder / "data_batch_5").write_bytes(b"\x80\x02" + b"N0" * 600 + b"N.")  # NONE, POP, ...
    assert error_of(folder) == (
        f"{folder.resolve()}/data_batch_5: runs more than 1,000 pickle opcodes; an official batch runs about 30,000"
    )


BOUNDED_LOAD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from densespace.datasets import load_cifar10
from densespace._errors import DatasetError
for source in sys.argv[2:]:
    try:
        load_cifar10(source, validation="test")
        print("loaded")
    except DatasetError as exc:
        print(exc)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS limits the address space on Linux only")
@pytest.mark.slow
def test_hostile_sources_fail_in_bounded_memory(tmp_path: Path) -> None:
    """Under a 1.5 GiB address-space limit, sources that expand to 2-30 GiB give a DatasetError line each."""
    tmp = tmp_path.resolve()
    member = "cifar-10-batches-bin/data_batch_1.bin"
    expanding = write_gzip_tar(tmp / "expands.tgz", tar_header(member, 2**31), zeros=2**31)  # 2 MB to 2 GiB
    pax = write_gzip_tar(tmp / "pax.tgz", tar_header("././@PaxHeader", 2**31, tarfile.XHDTYPE), zeros=2**31)
    sources = [
        (
            expanding,
            f"{expanding} (member {member}): 2147483648 bytes is more than a batch of the binary version "
            f"holds ({BINARY_LIMIT})",
        ),
        (
            pax,
            f"{pax}: a member's tar headers take 2147484160 bytes, more than the 65,536 allowed "
            "(a CIFAR-10 member needs 512)",
        ),
    ]
    for build in (_sparse_member, _dev_zero_as_source):
        (tmp / build.__name__).mkdir()
        sources.append(build(tmp / build.__name__))
    for name, (content, problem) in HOSTILE_PICKLES.items():
        folder = write_python(tmp / name, TRAIN, TEST)
        (folder / "data_batch_5").write_bytes(content)
        sources.append((folder, f"{folder}/data_batch_5: {problem}"))
    assert expanding.stat().st_size < 3 * 2**20
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", BOUNDED_LOAD, str(3 * 2**29), *(str(source) for source, _ in sources)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.splitlines() == [message for _, message in sources]
