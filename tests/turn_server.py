"""coturn (Debian's `turnserver`, installed by `make test`) on loopback for the relay tests: time-limited
credentials with a shared secret (use-auth-secret, the TURN REST API scheme), UDP and TCP on one port, relay ports
on loopback (allow-loopback-peers: both peers are on this machine)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aioice.turn import create_turn_endpoint

from common.process.launch import free_port

REALM = "realtime-avatar.test"


@dataclass(frozen=True)
class TurnServer:
    port: int
    secret: str

    @property
    def urls(self) -> list[str]:
        return [f"turn:127.0.0.1:{self.port}?transport=udp", f"turn:127.0.0.1:{self.port}?transport=tcp"]


@contextmanager
def turn_server(folder: Path) -> Iterator[TurnServer]:
    binary = shutil.which("turnserver")
    if binary is None:
        reason = "no turnserver: `make test` installs Debian's coturn (apt-get install coturn)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)  # on CI the relay tests are not optional
        pytest.skip(reason)
    port, secret = free_port(), f"secret-{random.randrange(1 << 60):x}"
    relay_low = random.randrange(40000, 60000, 200)
    command = [
        binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        f"--min-port={relay_low}", f"--max-port={relay_low + 199}", "--use-auth-secret",
        f"--static-auth-secret={secret}", f"--realm={REALM}", "--no-tls", "--no-dtls", "--no-cli",
        "--allow-loopback-peers", "--fingerprint", "--simple-log", f"--log-file={folder / 'turn.log'}",
        f"--pidfile={folder / 'turn.pid'}", f"--userdb={folder / 'turn.db'}",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert process.poll() is None and time.monotonic() < deadline, "turnserver did not start"
            time.sleep(0.05)
        yield TurnServer(port, secret)
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def allocate(port: int, username: str, password: str) -> None:
    """A TURN allocation on loopback as a peer makes one (aioice's client); raises when the credential is refused."""
    transport, _ = await create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port), username, password)
    transport.close()
