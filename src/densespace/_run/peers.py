"""The other processes of a distributed search: the chief's port, and reaching the chief."""

from __future__ import annotations

import socket
import sys
import time

from densespace._errors import PeerError

#: Seconds between a worker's attempts to reach its chief: doubling, then capped.
FIRST_RETRY, LONGEST_RETRY = 1.0, 30.0


def check_port_free(host: str, port: int) -> None:
    """Refuses a chief port another process listens on.

    keras-tuner's gRPC server binds with ``SO_REUSEPORT``, so a second chief on the
    same port would start without error and split the workers; a plain bind here
    fails on any port already bound.

    Raises:
        PeerError: The port is in use (or the host is not an address of this machine).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PeerError(
                f"cannot serve the search on {host}:{port}: {exc.strerror or exc} (another chief or program "
                "uses the port?); choose another --chief port"
            ) from None


def wait_for_chief(host: str, port: int, *, timeout: float, verbose: int) -> None:
    """Returns once the chief at ``host:port`` accepts connections.

    Says so within seconds when it does not, and retries with a growing delay.

    Raises:
        PeerError: The chief did not answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    delay = FIRST_RETRY
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(5.0, max(timeout, 0.1))):
                return
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
        left = deadline - time.monotonic()
        if left <= 0:
            raise PeerError(
                f"the chief at {host}:{port} did not answer for {timeout:g} s ({reason}); start the chief "
                "first, check the address, or raise --connect-timeout"
            )
        wait = min(delay, left)
        if verbose:
            print(
                f"worker: the chief at {host}:{port} is not reachable ({reason}); retrying in {wait:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        time.sleep(wait)
        delay = min(delay * 2, LONGEST_RETRY)
