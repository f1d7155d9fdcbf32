"""`make load`: a bounded burst of jobs against both services on loopback, then what became of each.

Sends BURST job requests at once to a runtime whose queue holds QUEUE; the rest must get 429 with Retry-After.
Every accepted job must end done or failed with a reason. Reports p50/p95 job latency, throughput and the
memory and open file descriptors of both services before, after each round and after an idle while (a pool
levels off after the first round; a leak grows with every round).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from contracts.runtime import Job
from harness.stack import local_stack

TEXTS = [
    "Thanks for calling, how can I help?",
    "Your order ships tomorrow morning.",
    "Gracias por su paciencia.",
    "我们明天见。",
]


def process_state(pid: int) -> str:
    """Resident memory and open file descriptors of a process, as a short text."""
    rss = next(
        (
            int(line.split()[1]) / 1024
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        ),
        float("nan"),
    )
    return f"{rss:.0f} MB, {len(os.listdir(f'/proc/{pid}/fd'))} fds"


async def burst(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        requests = [
            client.post(f"{url}/api/v1/jobs", json={"text": TEXTS[i % len(TEXTS)], "language": "auto"})
            for i in range(count)
        ]
        return list(await asyncio.gather(*requests))


async def settle(url: str, ids: list[str], timeout_s: float) -> list[Job]:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            jobs = [Job.model_validate((await client.get(f"{url}/api/v1/jobs/{job_id}")).json()) for job_id in ids]
            if all(job.status in ("done", "failed") for job in jobs) or time.monotonic() > deadline:
                return jobs
            await asyncio.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=50, help="job requests sent at once")
    parser.add_argument("--queue", type=int, default=20, help="RUNTIME_MAX_QUEUED_JOBS for this run")
    parser.add_argument("--workers", type=int, default=1, help="RUNTIME_JOB_WORKERS for this run")
    parser.add_argument("--rounds", type=int, default=2, help="bursts, one after the other (a leak grows with them)")
    parser.add_argument("--idle", type=float, default=30, help="seconds idle after the last round")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="avatar-load-"))
    env = {
        "RUNTIME_MAX_QUEUED_JOBS": str(args.queue),
        "RUNTIME_JOB_WORKERS": str(args.workers),
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",  # this run measures the queue bound, not the per-client limit
        "RUNTIME_LOG_LEVEL": "warning",
    }
    print(f"burst of {args.burst} jobs, queue bound {args.queue}, {args.workers} worker(s); logs in {base}")
    states: list[tuple[str, str, str]] = []  # when, runtime, gpu_service
    with local_stack(base / "gpu", base / "data", base / "logs", runtime_env=env) as (gpu, runtime):

        def note(when: str) -> None:
            states.append((when, process_state(runtime.process.pid), process_state(gpu.process.pid)))

        note("before")
        for round_number in range(1, args.rounds + 1):
            started = time.monotonic()
            answers = asyncio.run(burst(runtime.url, args.burst))
            accepted = [Job.model_validate(a.json()).id for a in answers if a.status_code == 202]
            refused = [a for a in answers if a.status_code == 429]
            other = [a for a in answers if a.status_code not in (202, 429)]
            jobs = asyncio.run(settle(runtime.url, accepted, timeout_s=60 + 30 * len(accepted)))
            elapsed = time.monotonic() - started
            note(f"after round {round_number}")
        time.sleep(args.idle)
        note(f"after {args.idle:.0f} s idle")
    done = [job for job in jobs if job.status == "done"]
    failed = [job for job in jobs if job.status == "failed"]
    stuck = [job for job in jobs if job.status not in ("done", "failed")]
    latencies = sorted((job.updated_at - job.created_at).total_seconds() for job in done)
    print(f"accepted {len(accepted)} (202), refused {len(refused)} (429), other {len(other)}")
    print(f"429s with Retry-After: {sum('retry-after' in a.headers for a in refused)} of {len(refused)}")
    print(f"ended: {len(done)} done, {len(failed)} failed, {len(stuck)} not finished")
    for job in failed:
        print(f"  failed {job.id}: {job.error}")
    if latencies:
        p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        print(f"job latency (submit to done): p50 {statistics.median(latencies):.1f} s, p95 {p95:.1f} s")
        print(f"throughput: {len(done) / elapsed * 60:.1f} jobs/min over {elapsed:.1f} s")
    print("(figures of the last round)")
    for when, runtime_state, gpu_state in states:
        print(f"{when:>18}: runtime {runtime_state}; gpu_service {gpu_state}")
    ok = not stuck and not other and len(accepted) <= args.queue + args.workers and len(refused) > 0
    print("OK" if ok else "PROBLEM: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
