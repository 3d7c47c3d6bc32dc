"""The floor the push benchmarks compare against: a bare `websockets` server.

Clients connect to `/` (any path but /publish) and get `{"type":"hello"}`; whatever text a
client connected to `/publish` sends is `broadcast()` to every other client, unchanged. No
authentication, no channel layer, no framework: what one process and one event loop cost to
fan a frame out.

    python bench/bare_broadcast.py --port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import resource

from websockets.asyncio.server import ServerConnection, broadcast, serve

agents: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    if ws.request is not None and ws.request.path == "/publish":
        async for frame in ws:
            broadcast(agents, frame)
        return
    agents.add(ws)
    try:
        await ws.send('{"type":"hello"}')
        await ws.wait_closed()
    finally:
        agents.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None, backlog=4096):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(args.port))
