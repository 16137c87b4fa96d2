"""Writes the demo data of the own-data examples: synthetic, with known structure.

    python examples/make_demo_data.py [OUT]     (default OUT: runs/demo-data)

* ``regression.csv``: 8 features ``x0..x7``; ``price = 3 x0 - 2 x1 + x2 x3 + noise``, in
  the tens of thousands (a target far from 0, that densespace standardizes);
* ``binary.csv``: 6 features ``f0..f5``; ``label`` is ``yes`` when ``f0 + f1 ** 2 > 1``, else ``no``;
* ``multilabel.npz``: ``x`` of 16 features, ``y`` a 0/1 matrix of 3 labels, each a
  threshold of a different linear combination;
* ``digits.npz``: ``x_train``, ``y_train``, ``x_test``, ``y_test``: 8x8 uint8 "images" of
  4 classes, each class a bright quadrant, for ``classification`` on an NPZ.

Nothing here is downloaded; the same seed writes the same files.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np


def main(out: Path) -> None:
    """Writes the four demo files into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    x = rng.normal(size=(2000, 8))
    price = 50_000 + 3_000 * (3 * x[:, 0] - 2 * x[:, 1] + x[:, 2] * x[:, 3]) + rng.normal(0, 500, 2000)
    _csv(out / "regression.csv", [f"x{i}" for i in range(8)] + ["price"], np.column_stack([x, price]))

    f = rng.normal(size=(2000, 6))
    label = np.where(f[:, 0] + f[:, 1] ** 2 > 1, "yes", "no")
    _csv(
        out / "binary.csv",
        [f"f{i}" for i in range(6)] + ["label"],
        [[*row, lab] for row, lab in zip(f, label, strict=True)],
    )

    e = rng.normal(size=(2000, 16)).astype(np.float32)
    weights = rng.normal(size=(16, 3))
    np.savez(out / "multilabel.npz", x=e, y=(e @ weights > 0.5).astype(np.float32))

    labels = rng.integers(0, 4, size=1200)
    images = rng.integers(0, 60, size=(1200, 8, 8)).astype(np.uint8)
    for k, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        images[labels == k, r : r + 4, c : c + 4] += 150
    np.savez(
        out / "digits.npz",
        x_train=images[:1000],
        y_train=labels[:1000],
        x_test=images[1000:],
        y_test=labels[1000:],
    )
    print(f"wrote regression.csv, binary.csv, multilabel.npz and digits.npz into {out}")


def _csv(path: Path, header: list[str], rows: object) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)  # type: ignore[arg-type]


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/demo-data"))
