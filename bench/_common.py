"""What every benchmark script writes beside its figures: the command and the machine."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def command() -> str:
    """The command line that ran this script, as a user would type it from the repository root."""
    return " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def machine() -> str:
    """Processor, cores and platform, in one line."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU, {platform.platform()}"
