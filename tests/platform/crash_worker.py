"""A real worker process for test_jobs: its task blocks on the first attempt, so the test can
kill the process mid-job and watch another worker pick the job up."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sivug.platform.config import Settings
from sivug.platform.jobs import registry, run_worker


@registry.task(name="tests.slow")
async def slow(marker_dir: str) -> None:
    folder = Path(marker_dir)
    attempt = len(list(folder.glob("started-*")))
    (folder / f"started-{attempt}").touch()
    if attempt == 0:
        await asyncio.sleep(600)  # the test kills the worker here
    (folder / "done").touch()


if __name__ == "__main__":
    asyncio.run(run_worker(Settings(_env_file=None), sys.argv[1], {}))
