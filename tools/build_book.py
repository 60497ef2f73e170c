"""Build the book the way `make book` does, and record how long it took.

Runs ``jupyter-book build . -W -n --keep-going`` (warnings are errors, nitpicky references, report
everything), with the execution cache on (``_config.yml``). Appends one record per build to
``_build/build_times.json``: wall time and how many notebooks had to be executed (0 for a warm rebuild).
``tools/book_times.py`` (``make bench``) reads that file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
RECORDS = ROOT / "_build" / "build_times.json"


def cached_notebooks() -> dict[str, float]:
    """Map each cached notebook's URI to the time it was executed (empty when there is no cache)."""
    if not CACHE.exists():
        return {}
    from jupyter_cache import get_cache

    return {rec.uri: rec.created.timestamp() for rec in get_cache(CACHE).list_cache_records()}


def main() -> int:
    before = cached_notebooks()
    command = ["jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going"]
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    status = subprocess.call(command, cwd=ROOT)
    seconds = time.perf_counter() - start
    after = cached_notebooks()
    executed = sorted(uri for uri, stamp in after.items() if before.get(uri) != stamp)
    record = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seconds": round(seconds, 1),
        "notebooks_executed": len(executed),
        "cold": not before,
        "status": status,
    }
    RECORDS.parent.mkdir(exist_ok=True)
    history = json.loads(RECORDS.read_text()) if RECORDS.exists() else []
    RECORDS.write_text(json.dumps(history + [record], indent=1))
    kind = "cold" if record["cold"] else "warm" if not executed else "partial"
    print(f"book build ({kind}): {seconds:.1f} s, {len(executed)} notebook(s) executed, exit status {status}")
    reports = sorted((ROOT / "_build" / "html" / "reports").glob("**/*.err.log"))
    for report in reports:
        print(f"execution failed, see {report.relative_to(ROOT)}", file=sys.stderr)
    return status or (1 if reports else 0)


if __name__ == "__main__":
    sys.exit(main())
