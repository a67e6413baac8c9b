"""The child side of ``_h2.py``: the h2 TLS edge behind the HTTPS benchmark's delay stage.

``python benchmarks/_h2_child.py <emulator port>`` serves, on 127.0.0.1:

    client ──TCP──▶ [delay: RTT/2 each way, connections counted] ──▶ [h2 TLS edge] ──▶ emulator

The delay stage is ``_network.Network``'s; the edge is the tests' (``tests/integration/
_h2_edge.py``: Hypercorn, ALPN ``h2`` and ``http/1.1``). Out of process, like the emulator and
the network, so neither the edge's CPU nor its GIL is the client's. Protocol as ``_network.py``:
hello ``{"port", "ca_pem"}``; methods ``set_rtt``, ``counts``, ``versions``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from typing import NoReturn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _child import answer_calls
from _network import Network

from tests.integration._h2_edge import H2Edge


class _Delay(Network):
    """Only the delay stage of :class:`Network`, in front of ``upstream_port`` (the edge)."""

    async def start(self) -> None:
        self._edge_port = self.upstream_port
        front = await asyncio.start_server(self._front, "127.0.0.1", 0)
        self.port = front.sockets[0].getsockname()[1]


def _serve(upstream_port: int) -> NoReturn:  # pragma: no cover - runs in the child process
    with H2Edge(upstream_port) as edge:
        net = _Delay(edge.port)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(net.start(), loop).result(10)
        out = sys.stdout
        out.write(json.dumps({"port": net.port, "ca_pem": edge.ca_pem}) + "\n")
        out.flush()
        answer_calls({
            "set_rtt": net.set_rtt,
            "counts": net.counts,
            "versions": lambda: sorted(set(edge.app.versions)),
        })
        # The parent is done with us: connections still being copied need no goodbye (tearing
        # the loops down under them only prints asyncio's pending-task noise).
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    _serve(int(sys.argv[1]))
