"""A test host in a network namespace of the test's own, linked to this host by a veth pair.

The link can be shaped (``tc tbf``: a station's uplink) and cut (link down), which is a real network
outage for every socket crossing it — signaling and media alike. Needs root and iproute2; the
namespace, the veth pair and the registered test network are removed at the end.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.conftest import TEST_HOST_NETWORKS

__all__ = ["TestHost", "netns_available", "station_host"]


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=10)


def netns_available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    return None


@dataclass
class TestHost:
    """The namespace and the two ends of its link."""

    __test__ = False

    ns: str
    host_if: str
    peer_if: str
    host_ip: str
    peer_ip: str

    def exec_prefix(self) -> list[str]:
        """Prefix a command with this to run it on the test host."""
        return ["ip", "netns", "exec", self.ns]

    def cut(self) -> None:
        """Take the station's end of the link down (its cable pulled): nothing crosses until
        :meth:`restore`. This host keeps its interface, as an agent's office network would."""
        _ip("link", "set", self.peer_if, "down", ns=self.ns)

    def restore(self) -> None:
        """Plug the station back in."""
        _ip("link", "set", self.peer_if, "up", ns=self.ns)

    def shape(self, rate: str = "4mbit") -> None:
        """Limit the host → test-host direction like a station's uplink (token bucket)."""
        subprocess.run(
            [
                "tc",
                "qdisc",
                "replace",
                "dev",
                self.host_if,
                "root",
                "tbf",
                "rate",
                rate,
                "burst",
                "64kbit",
                "latency",
                "100ms",
            ],
            check=True,
            capture_output=True,
            timeout=10,
        )


@contextmanager
def station_host() -> Iterator[TestHost]:
    """Create a namespace with a /30 link to this host; yields it; removes everything after."""
    tag = secrets.token_hex(3)
    ns, host_if, peer_if = f"ds{tag}", f"vh{tag}", f"vk{tag}"
    net = ipaddress.IPv4Network(f"10.231.{secrets.randbelow(250) + 1}.{4 * secrets.randbelow(60)}/30")
    host_ip, peer_ip = (str(a) for a in list(net.hosts())[:2])
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        _ip("link", "set", peer_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("addr", "add", f"{peer_ip}/30", "dev", peer_if, ns=ns)
        _ip("link", "set", peer_if, "up", ns=ns)
        _ip("link", "set", "lo", "up", ns=ns)
        TEST_HOST_NETWORKS.add(net)
        yield TestHost(ns=ns, host_if=host_if, peer_if=peer_if, host_ip=host_ip, peer_ip=peer_ip)
    finally:
        TEST_HOST_NETWORKS.discard(net)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=10, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)
