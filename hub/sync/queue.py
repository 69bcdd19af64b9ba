"""Where jobs go: RQ on `REDIS_URL`, or — with no Redis configured — an embedded queue on an
in-process fakeredis, drained by `hub.sync.worker.EmbeddedWorker`. The same job functions run
either way."""

from __future__ import annotations

import threading

import fakeredis
import redis
from flask import Flask, current_app
from rq import Queue
from rq.job import JobStatus

QUEUE_NAME = "hub"
FAILED_JOBS_KEPT = 7 * 86400  # seconds a failed job stays in RQ's registry
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
_embedded_server: fakeredis.FakeServer | None = None
_embedded_lock = threading.Lock()

RedisError = redis.exceptions.RedisError


def is_embedded(app: Flask | None = None) -> bool:
    return not (app or current_app).config.get("REDIS_URL")


def connection(app: Flask | None = None) -> redis.Redis:
    app = app or current_app._get_current_object()
    conn = app.extensions.get("hub_redis")
    if conn is None:
        url = app.config.get("REDIS_URL")
        if url:
            conn = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30)
        else:
            global _embedded_server
            with _embedded_lock:
                if _embedded_server is None:
                    _embedded_server = fakeredis.FakeServer()
            conn = fakeredis.FakeRedis(server=_embedded_server)
        app.extensions["hub_redis"] = conn
    return conn


def get_queue(app: Flask | None = None) -> Queue:
    return Queue(QUEUE_NAME, connection=connection(app))


def wake_embedded_worker() -> None:
    """After enqueueing: the embedded worker, when this process runs one, looks now rather than at
    its next round. (With RQ on Redis, workers block on the queue and need no wake-up.)"""
    worker = current_app.extensions.get("hub_embedded_worker")
    if worker is not None:
        worker.wakeup.set()


def enqueue_once(queue: Queue, job_id: str, func: str, *args: object, timeout: int) -> bool:
    """Enqueue unless a job with this id is already queued or running. True if enqueued. `func` is
    the job's dotted name ("hub.sync.jobs.pull_stock"): whoever enqueues need not import the jobs."""
    job = queue.fetch_job(job_id)
    if job is not None:
        if job.get_status(refresh=False) in ACTIVE:
            return False
        job.delete()
    queue.enqueue(func, *args, job_id=job_id, job_timeout=timeout, result_ttl=60, failure_ttl=FAILED_JOBS_KEPT)
    return True
