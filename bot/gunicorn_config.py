"""gunicorn settings for the Procfile's web line: `gunicorn -c python:bot.gunicorn_config bot.wsgi:application`."""

import ctypes
import ctypes.util
import os
import shutil
import sys
import tempfile

from bot.settings import load_settings

# glibc's mallopt parameters (malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
SWITCH_INTERVAL = 0.0005  # seconds


def on_starting(server) -> None:
    # In the master, before any worker is forked: a missing or bad setting prints one line and exits 2.
    # Found in a worker instead, it would only end that worker, and gunicorn would boot another, forever.
    load_settings()
    limit_malloc_fragmentation()
    # Requests share a worker's GIL with outbox delivery, which is CPU work (composing, rendering Block Kit).
    # At the default 5 ms switch interval a request that just committed waits whole slices for the
    # delivery it started; 0.5 ms hands the GIL back sooner (bench/ack_latency.py shows the difference).
    sys.setswitchinterval(SWITCH_INTERVAL)
    prepare_metrics_directory(server)


# prometheus-client's multiprocess mode (bot/metrics.py): each worker writes its counters to files in this
# directory and a scrape of /metrics, whichever worker answers it, adds up every worker's.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CREATED_METRICS_DIR = "crossfeed.metrics_dir_created"  # gunicorn's server: the directory this master made


def prepare_metrics_directory(server) -> None:
    """Set PROMETHEUS_MULTIPROC_DIR for the workers, before any is forked and before anything imports
    prometheus-client (it reads the variable on import): the operator's directory, emptied of a previous run's
    files, or a new temporary one, removed on exit."""
    directory = os.environ.get(METRICS_DIR)
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))
        return
    directory = tempfile.mkdtemp(prefix="crossfeed-metrics-")
    os.environ[METRICS_DIR] = directory
    setattr(server, CREATED_METRICS_DIR, directory)


def child_exit(server, worker) -> None:
    # A worker's counters stay in its files (they still count); live gauges of a dead process would not.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    created = getattr(server, CREATED_METRICS_DIR, None)
    if created:
        shutil.rmtree(created, ignore_errors=True)


def limit_malloc_fragmentation() -> None:
    """Keep a threaded worker's memory flat (workers inherit this from the master through fork).

    glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what was freed in
    it; it also raises its mmap threshold after a large block is freed, so later large bodies (notes of
    100 kB, fuzz) land in those arenas too. Together the worker's RSS kept growing under mixed traffic
    (bench/soak.py) although Python's own objects did not. Two arenas and a fixed threshold stop that."""
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is None:  # not glibc (musl, macOS): nothing to tune
        return
    mallopt(M_ARENA_MAX, 2)
    mallopt(M_MMAP_THRESHOLD, 128 * 1024)
