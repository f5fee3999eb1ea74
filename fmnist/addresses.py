"""`python -m fmnist.addresses PORT`: the URLs other machines can open when the app listens on every interface
(what `make serve` prints). Nothing is sent anywhere: the addresses are this machine's own."""

from __future__ import annotations

import ipaddress
import socket
import sys


def local_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (0.0.0.0 listens on IPv4 only), best guess first."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:  # a UDP "connect" sends nothing; it only asks the kernel which address a route out would use
            s.connect(("192.0.2.1", 9))
            found.append(s.getsockname()[0])
        except OSError:
            pass
    for *_, addr in _addrinfo():
        found.append(addr[0].split("%")[0])
    unique = []
    for a in found:
        ip = ipaddress.ip_address(a)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local) and a not in unique:
            unique.append(a)
    return unique


def _addrinfo() -> list:
    try:
        return socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET, proto=socket.IPPROTO_TCP)
    except OSError:
        return []


def url(address: str, port: int) -> str:
    return f"http://{address}:{port}"


def main(argv: list[str]) -> int:
    port = int(argv[0]) if argv else 8501
    addresses = local_addresses()
    print("Serving on every network interface: anyone who can reach this machine can use the app.")
    if addresses:
        print("Hand out: " + "  ".join(url(a, port) for a in addresses))
    else:
        print(f"No network address found: only http://localhost:{port} works on this machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
