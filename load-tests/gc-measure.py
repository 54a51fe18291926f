#!/usr/bin/env python3
"""Garbage collection at scale: space reclaimed and time taken for a store of 10,000 blobs,
and pull latency while a collection runs against pull latency without one.

Usage: load-tests/gc-measure.py [path/to/berth] > gc-report.md
Env:   BLOBS (default 10000), LIVE_IMAGES (200, each a config + 9 layers = 10 live blobs),
       BLOB_KIB (16), PULL_THREADS (4).

Method: start Berth on a temp data dir with the test clock; push LIVE_IMAGES images (10 blobs
each) and BLOBS - 10 * LIVE_IMAGES unreferenced blobs (16 parallel clients); move the clock
two hours (past the grace window); measure manifest+blob pull latency for 5 s with no GC;
then start the `blobstore.compact-default` task and measure the same pulls until it ends.
Reports the GC report (blobs and bytes freed, duration), the bytes under blobs/ before and
after (du-style), and latency medians/p99 with ratios. Timings are informative, never gates.
"""
import concurrent.futures as cf
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

BERTH = sys.argv[1] if len(sys.argv) > 1 else "target/debug/berth"
BLOBS = int(os.environ.get("BLOBS", "10000"))
LIVE_IMAGES = int(os.environ.get("LIVE_IMAGES", "200"))
BLOB_KIB = int(os.environ.get("BLOB_KIB", "16"))
PULL_THREADS = int(os.environ.get("PULL_THREADS", "4"))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def du(root):
    total = 0
    for d, _, files in os.walk(os.path.join(root, "blobs")):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    return total


def main():
    tmp = tempfile.mkdtemp(prefix="berth-gc-")
    cfg = os.path.join(tmp, "berth.toml")
    with open(cfg, "w") as f:
        f.write("[gc]\ntest_clock = true\ngrace_secs = 3600\n[log]\nlevel = \"warn\"\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [BERTH, "serve", "--config", cfg, "--listen", f"127.0.0.1:{port}",
         "--data-dir", os.path.join(tmp, "data")],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "berth.log"), "w"))
    try:
        run(base, os.path.join(tmp, "data", "blobstores", "default"))
    finally:
        server.terminate()
        server.wait()


def push_blob(s, base, name, data):
    d = sha(data)
    r = s.post(f"{base}/v2/{name}/blobs/uploads/?digest={d}", data=data)
    assert r.status_code == 201, r.text
    return d


local = threading.local()


def session():
    if not hasattr(local, "s"):
        local.s = requests.Session()
    return local.s


def push_image(base, i):
    s = session()
    blobs = [os.urandom(BLOB_KIB * 1024) for _ in range(10)]
    digests = [push_blob(s, base, "live", b) for b in blobs]
    layers = ",".join(
        f'{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{len(b)}}}'
        for d, b in zip(digests[1:], blobs[1:]))
    m = (f'{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":'
         f'"application/vnd.oci.image.config.v1+json","digest":"{digests[0]}","size":{len(blobs[0])}}},'
         f'"layers":[{layers}]}}')
    r = s.put(f"{base}/v2/live/manifests/v{i}", data=m, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return digests[1]


def push_junk(base, _):
    push_blob(session(), base, "junk", os.urandom(BLOB_KIB * 1024))


def wait_up(base):
    for _ in range(200):
        try:
            if requests.get(f"{base}/v2/").status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise SystemExit("berth did not start")


def pulls(base, layer, stop):
    """Manifest + one layer GET per sample, until stop() is true; returns latencies (ms)."""
    out = []
    lock = threading.Lock()

    def worker():
        s = requests.Session()
        while not stop():
            t = time.perf_counter()
            r1 = s.get(f"{base}/v2/live/manifests/v1", headers={"Accept": OCI_MANIFEST})
            r2 = s.get(f"{base}/v2/live/blobs/{layer}")
            ms = (time.perf_counter() - t) * 1000
            assert r1.status_code == 200 and r2.status_code == 200
            with lock:
                out.append(ms)

    threads = [threading.Thread(target=worker) for _ in range(PULL_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def run(base, store):
    wait_up(base)
    t0 = time.time()
    junk = BLOBS - 10 * LIVE_IMAGES
    with cf.ThreadPoolExecutor(16) as ex:
        layer = list(ex.map(lambda i: push_image(base, i), range(LIVE_IMAGES)))[1]
        list(ex.map(lambda i: push_junk(base, i), range(junk)))
    push_secs = time.time() - t0
    r = requests.put(f"{base}/service/rest/v1/berth/clock", json={"offsetSeconds": 7200})
    assert r.status_code == 204
    before = du(store)
    t_end = time.time() + 5
    quiet = pulls(base, layer, lambda: time.time() > t_end)
    r = requests.post(f"{base}/service/rest/v1/tasks/blobstore.compact-default/run")
    assert r.status_code == 204, r.text
    task_url = f"{base}/service/rest/v1/tasks/blobstore.compact-default"
    done = threading.Event()

    def watch():
        while requests.get(task_url).json()["currentState"] == "RUNNING":
            time.sleep(0.05)
        done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    during = pulls(base, layer, done.is_set)
    watcher.join()
    task = requests.get(task_url).json()
    report = task["lastRunReport"][0]
    after = du(store)
    print("# GC measurement\n")
    print(f"- Berth binary: `{BERTH}`; {BLOBS} blobs of {BLOB_KIB} KiB "
          f"({10 * LIVE_IMAGES} live in {LIVE_IMAGES} images, {junk} unreferenced); "
          f"pushed in {push_secs:.1f} s by 16 clients")
    print(f"- GC: scanned {report['blobsScanned']}, deleted {report['blobsDeleted']} blobs, "
          f"freed {report['bytesFreed']} bytes in {report['durationMs']} ms "
          f"(result {task['lastRunResult']})")
    print(f"- bytes under blobs/: {before} before, {after} after "
          f"(reclaimed {before - after})")
    mq, md = statistics.median(quiet), statistics.median(during) if during else float("nan")
    print(f"- pull (manifest + 16 KiB layer), {PULL_THREADS} clients: without GC median "
          f"{mq:.2f} ms p99 {pct(quiet, 0.99):.2f} ms ({len(quiet)} pulls); during GC median "
          f"{md:.2f} ms p99 {pct(during, 0.99) if during else float('nan'):.2f} ms "
          f"({len(during)} pulls)")
    if during:
        print(f"- ratio during/without: median {md / mq:.2f}, p99 "
              f"{pct(during, 0.99) / pct(quiet, 0.99):.2f}")


if __name__ == "__main__":
    main()
