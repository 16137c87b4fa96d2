"""The results folder: new, resumable with the same spec and data, or cleared on request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from densespace._errors import RunFolderError
from densespace._files import read_json, write_text

RUN_FILE = "run.json"
#: The largest ``run.json`` densespace reads (a spec and a data description).
MAX_RUN_BYTES = 16 << 20


def prepare(out: Path, run: dict[str, Any], *, overwrite: bool) -> None:
    """Makes ``out`` ready for the search that ``run`` (spec and data) describes.

    A new or empty folder gets ``run.json``; a folder holding the same search is
    resumed; a folder holding another search is refused unless ``overwrite``.
    A folder that exists, is not empty and holds no ``run.json`` is not a
    densespace results folder: it is never written into, let alone cleared.

    Raises:
        RunFolderError: ``out`` holds something else, or another search without ``overwrite``.
    """
    marker = out / RUN_FILE
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is not a folder; choose a new or empty --out")
    if out.exists() and not marker.exists() and any(out.iterdir()):
        raise RunFolderError(
            f"{out} is not empty and holds no densespace search ({RUN_FILE}); choose a new or empty --out"
        )
    if marker.exists() and not overwrite:
        changes = _differences(read_json(marker, limit=MAX_RUN_BYTES), run)
        if changes:
            raise RunFolderError(
                f"{out} holds a search of a different spec or data ({'; '.join(changes[:5])}); "
                "pass --overwrite (overwrite=True) to start over, or choose another --out"
            )
        return
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(marker, json.dumps(run, indent=2) + "\n")


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            change
            for key in sorted(set(old) | set(new))
            for change in _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        ]
    return [] if old == new else [f"{path}: {json.dumps(old)[:100]} -> {json.dumps(new)[:100]}"]
