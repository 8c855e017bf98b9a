#!/usr/bin/env python3
"""A TCP proxy that delays every byte by a fixed time, in order: a slow link (tc netem is not
available here). Runs as its own process so that the campaign's clients do not share its GIL.

    delay_proxy.py --listen-ip IP --delay-ms D PORT=DST_IP:DST_PORT ...

Each chunk read on one side is written to the other side `delay` after it was read; the order of
chunks on a connection is kept. Closing one side closes the other. Stops on SIGTERM.
"""

import argparse
import asyncio
import signal
import sys
import time


async def pump(reader, writer, delay_s):
    queue = asyncio.Queue(maxsize=4096)  # bounded: a stalled side stalls the reader too

    async def read_side():
        try:
            while True:
                data = await reader.read(1 << 16)
                await queue.put((time.monotonic() + delay_s, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((time.monotonic(), b""))

    async def write_side():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
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

    await asyncio.gather(read_side(), write_side())


async def serve(listen_ip, port, dst_ip, dst_port, delay_s):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(dst_ip, dst_port), 5)
        except (OSError, asyncio.TimeoutError):
            writer.close()
            return
        await asyncio.gather(pump(reader, up_writer, delay_s), pump(up_reader, writer, delay_s))

    return await asyncio.start_server(handle, listen_ip, port, reuse_address=True)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen-ip", required=True)
    p.add_argument("--delay-ms", type=float, required=True)
    p.add_argument("links", nargs="+", help="PORT=DST_IP:DST_PORT")
    args = p.parse_args()
    servers = []
    for link in args.links:
        port, dst = link.split("=")
        dst_ip, dst_port = dst.rsplit(":", 1)
        servers.append(await serve(args.listen_ip, int(port), dst_ip, int(dst_port),
                                   args.delay_ms / 1000.0))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await stop.wait()
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
