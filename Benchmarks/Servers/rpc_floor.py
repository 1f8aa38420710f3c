"""The transport's floor: server CPU per unary RPC on a handler that does almost nothing.

`GetSystemInfo` answers a constant on both servers, so its cost is the gRPC/HTTP/2 path itself. Each
target is started fresh, warmed up, then called N times sequentially from one grpcio channel, with and
without gzip-compressed requests (the Python SDK gzips by default); server CPU comes from
/proc/PID/stat. Usage: .venv/bin/python Benchmarks/Servers/rpc_floor.py [-n 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Integration", "support"))
sys.path.insert(0, os.path.dirname(__file__))

from netutil import free_loopback_port  # noqa: E402
from proc_readings import proc_cpu_s  # noqa: E402
from servers import make_targets  # noqa: E402  (the same targets, one line each)

METHOD = "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo"


def measure(argv: list[str], calls: int, compression) -> tuple[float, float]:
    port = free_loopback_port()
    server = subprocess.Popen([part.replace("{port}", str(port)) for part in argv],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", compression=compression)
        call = channel.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        deadline = time.monotonic() + 10
        while True:
            try:
                call(b"", timeout=1)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        for _ in range(500):
            call(b"")
        before, wall = proc_cpu_s(server.pid), time.perf_counter()
        for _ in range(calls):
            call(b"")
        wall = time.perf_counter() - wall
        used = proc_cpu_s(server.pid) - before
        channel.close()
        return used / calls * 1e6, wall / calls * 1e6
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="calls per measurement")
    args = parser.parse_args()
    print(f"{'target':<20}{'compression':<14}{'server CPU µs/RPC':>20}{'round trip µs':>16}")
    for target in make_targets():
        for name, compression in (("none", grpc.Compression.NoCompression), ("gzip", grpc.Compression.Gzip)):
            cpu, round_trip = measure(target.argv, args.n, compression)
            print(f"{target.name:<20}{name:<14}{cpu:>20.1f}{round_trip:>16.1f}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
