"""A network between the benchmark's clients and the emulator: TLS, round-trip time, counters.

Runs as a child process (``python benchmarks/_network.py <upstream port>``), so its CPU is not
the client's, in front of the emulator (plain HTTP on 127.0.0.1):

    client ──TCP──▶ [delay: RTT/2 each way] ──▶ [TLS edge] ──plain HTTP──▶ emulator

* **The delay stage** accepts TCP connections (each one counted) and forwards every chunk it
  reads, in either direction, RTT/2 after it arrived, in order. A new connection also pays the
  TCP handshake: the client's first bytes are delivered no earlier than RTT after the accept
  (SYN, SYN-ACK) plus RTT/2. So a TCP handshake, each TLS flight and each request/answer cost
  what they would cost over a link with that RTT, and nothing is charged twice.
* **The TLS edge** terminates TLS with a certificate generated at start for 127.0.0.1 (a
  throwaway key; only clients given the printed PEM trust it) and counts completed handshakes,
  full and resumed.

Protocol (as ``_emulator.py``): the child prints one JSON line (``port``: where clients
connect, ``ca_pem``), then answers each JSON line ``[method, args, kwargs]`` with one JSON line
``{"ok": result}`` or ``{"error": "..."}``; methods ``set_rtt``, ``counts``, ``reset_counts``.
End of stdin stops it.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import sys
import tempfile
import threading

_CHUNK = 65536


def _certificate() -> tuple[ssl.SSLContext, str]:
    """A self-signed certificate for 127.0.0.1: (server context, its PEM for the clients)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scalekit-langchain bench")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=4))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        with open(f"{tmp}/cert.pem", "wb") as f:
            f.write(cert_pem)
        with open(f"{tmp}/key.pem", "wb") as f:
            f.write(key_pem)
        server.load_cert_chain(f"{tmp}/cert.pem", f"{tmp}/key.pem")
    return server, cert_pem.decode("ascii")


class Network:
    """The delay stage and the TLS edge, on one event loop (see the module docstring)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rtt = 0.0
        self.connections = 0
        self.handshakes = 0
        self.resumed = 0
        self.tls, self.ca_pem = _certificate()
        self.port = 0
        self._edge_port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def counts(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "handshakes": self.handshakes,
            "resumed": self.resumed,
        }

    def reset_counts(self) -> None:
        self.connections = self.handshakes = self.resumed = 0

    def set_rtt(self, seconds: float) -> None:
        self.rtt = float(seconds)

    async def start(self) -> None:
        edge = await asyncio.start_server(self._edge, "127.0.0.1", 0, ssl=self.tls)
        self._edge_port = edge.sockets[0].getsockname()[1]
        front = await asyncio.start_server(self._front, "127.0.0.1", 0)
        self.port = front.sockets[0].getsockname()[1]
        self._servers = (edge, front)

    # ------------------------------------------------------------------ TLS edge

    async def _edge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio calls this once the handshake completed.
        tls = writer.get_extra_info("ssl_object")
        self.handshakes += 1
        if tls is not None and tls.session_reused:
            self.resumed += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))

    # ------------------------------------------------------------------ delay stage

    async def _front(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        loop = asyncio.get_running_loop()
        rtt = self.rtt
        # The client could only send once the TCP handshake (one RTT) was done.
        established = loop.time() + rtt
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._edge_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _delayed(reader, up_writer, self, established),
            _delayed(up_reader, writer, self, 0.0),
        )


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _delayed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, net: Network, earliest: float
) -> None:
    """Copy ``reader`` to ``writer``, each chunk (and the end) RTT/2 after it arrived."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((max(loop.time(), earliest) + net.rtt / 2, data))
            if not data:
                break
        await sender
    finally:
        sender.cancel()


def _serve(upstream_port: int) -> int:  # pragma: no cover - runs in the child process
    from _child import answer_calls  # run as a script: this file's directory is on sys.path

    net = Network(upstream_port)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(net.start(), loop).result(10)
    out = sys.stdout
    out.write(json.dumps({"port": net.port, "ca_pem": net.ca_pem}) + "\n")
    out.flush()
    # Counters and the RTT are plain attributes; the loop reads them per connection.
    answer_calls({"set_rtt": net.set_rtt, "counts": net.counts, "reset_counts": net.reset_counts})
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_serve(int(sys.argv[1])))
