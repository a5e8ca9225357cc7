#!/usr/bin/python3
"""Benchmarks the whole-record export: GET /v1/export through the gateway
over generated stores, at two sizes, for records per second and the memory
each process takes while it runs.

  tests/bench/export_bench.py [--sizes 10000,100000] [BUILD_DIR]

For each size N: fills a legislation store with N generated documents and
an events store with N generated events (legislation_bench_data,
events_bench_data: SQLite files in a fresh directory), starts the four
services (membership and monitoring seeded with the built-in seed) and the
gateway on loopback, then downloads GET /v1/export once to warm the stores'
pages and once measured, reading as fast as the connection gives. While the
measured download runs it samples the resident memory (VmRSS) of the
gateway, legislation and events servers every 20 ms. Prints one row per
size: records, seconds, records/s, MB of gzip, and each process's peak RSS
during the export above its RSS just before it. The memory must not grow
with N: each service reads ahead of the client by about 1 MiB and the
gateway holds one chunk (record_export.h, resources/export.h).

Builds nothing: BUILD_DIR (default build/) must hold the four servers, the
gateway and the two data tools:
  ninja -C build membership_server legislation_server events_server \\
    monitoring_server gateway_server legislation_bench_data events_bench_data
Standard library only.
"""

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

SERVICES = ("membership", "legislation", "events", "monitoring")


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Suite:
    """The four services and the gateway, on loopback port 0."""

    def __init__(self, build, tmp, stores):
        self.procs = {}
        self.ports = {}
        for s in SERVICES:
            self.start(s, os.path.join(build, "services", s, s + "_server"),
                       tmp, ["--store=" + stores[s], "--seed=builtin"])
        for s in SERVICES:
            self.wait(s, "grpc_port")
        self.start("gateway", os.path.join(build, "gateway", "gateway_server"),
                   tmp, ["--http_listen=127.0.0.1:0"] + [
                       "--%s_target=ipv4:127.0.0.1:%d" % (
                           s, self.ports[s]["grpc_port"]) for s in SERVICES])
        self.http = self.wait("gateway", "http_port")["http_port"]

    def start(self, name, binary, tmp, args):
        port_file = os.path.join(tmp, name + ".ports")
        log = open(os.path.join(tmp, name + ".log"), "wb")  # pylint: disable=consider-using-with
        self.procs[name] = subprocess.Popen(  # pylint: disable=consider-using-with
            [binary, "--listen=127.0.0.1:0", "--admin_listen=",
             "--access_log=off", "--port_file=" + port_file] + args,
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        self.procs[name].port_file = port_file

    def wait(self, name, key):
        proc = self.procs[name]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %d" % (name, proc.returncode))
            try:
                with open(proc.port_file, encoding="utf-8") as f:
                    ports = json.load(f)
                if ports.get(key):
                    self.ports[name] = ports
                    return ports
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not start" % name)

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def download(port):
    """GET /v1/export, read as it comes: (records, gzip bytes, seconds, the
    last line)."""
    t0 = time.monotonic()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    records = 0
    zipped = 0
    tail = b""
    last = b""
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/export" % port,
                                timeout=600) as r:
        while True:
            chunk = r.read(1 << 16)
            if not chunk:
                break
            zipped += len(chunk)
            text = tail + inflate.decompress(chunk)
            lines = text.split(b"\n")
            tail = lines.pop()
            if lines:
                last = lines[-1]
            records += sum(1 for l in lines if l.startswith(b'{"type":'))
    seconds = time.monotonic() - t0
    return records, zipped, seconds, last


def run(build, size):
    tmp = tempfile.mkdtemp(prefix="cstopa-export-bench-")
    try:
        stores = {s: "sqlite://%s/%s.db" % (tmp, s) for s in SERVICES}
        t0 = time.monotonic()
        subprocess.run([os.path.join(build, "tests", "bench",
                                     "legislation_bench_data"),
                        "--store=" + stores["legislation"],
                        "--documents=%d" % size, "--requests_dir=" + tmp],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([os.path.join(build, "tests", "bench",
                                     "events_bench_data"),
                        "--store=" + stores["events"], "--events=%d" % size,
                        "--requests_dir=" + tmp],
                       check=True, stdout=subprocess.DEVNULL)
        filled = time.monotonic() - t0
        suite = Suite(build, tmp, stores)
        try:
            download(suite.http)  # warm the page caches
            watched = {n: suite.procs[n].pid
                       for n in ("gateway", "legislation", "events")}
            before = {n: rss_kib(p) for n, p in watched.items()}
            peak = dict(before)
            done = threading.Event()

            def sample():
                while not done.is_set():
                    for n, p in watched.items():
                        peak[n] = max(peak[n], rss_kib(p))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                records, zipped, seconds, last = download(suite.http)
            finally:
                done.set()
                sampler.join()
            if b'"end"' not in last:
                raise RuntimeError("the download did not end with its end "
                                   "line: %r" % last[:200])
        finally:
            suite.stop()
        return {
            "size": size, "records": records, "seconds": seconds,
            "records_per_s": records / seconds, "gzip_mb": zipped / 1e6,
            "fill_s": filled,
            "rss_mb": {n: before[n] / 1024 for n in before},
            "growth_mb": {n: (peak[n] - before[n]) / 1024 for n in before},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    args = sys.argv[1:]
    sizes = [10000, 100000]
    if args and args[0] == "--sizes":
        sizes = [int(x) for x in args[1].split(",")]
        args = args[2:]
    build = os.path.abspath(args[0] if args else "build")
    print("| documents + events | records | seconds | records/s | gzip MB "
          "| gateway RSS (+ during) | legislation RSS (+) | events RSS (+) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in sizes:
        r = run(build, size)
        print("| %d + %d | %d | %.1f | %.0f | %.1f | %.0f MB (+%.1f) "
              "| %.0f MB (+%.1f) | %.0f MB (+%.1f) |" % (
                  size, size, r["records"], r["seconds"], r["records_per_s"],
                  r["gzip_mb"], r["rss_mb"]["gateway"],
                  r["growth_mb"]["gateway"], r["rss_mb"]["legislation"],
                  r["growth_mb"]["legislation"], r["rss_mb"]["events"],
                  r["growth_mb"]["events"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
