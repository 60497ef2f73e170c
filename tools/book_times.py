"""`make bench`: how long each notebook takes to execute, how long builds take, and the speed ratios.

Reads the execution cache of the last build (``_build/.jupyter_cache``) for per-notebook times, the
build records written by ``tools/build_book.py`` for cold and warm build times, then times one warm
rebuild now, and finally runs the NumPy-vs-Keras layer benchmark (``flatgap.reference.speed``) when it exists.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import toc

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
RECORDS = ROOT / "_build" / "build_times.json"


def notebook_times() -> list[tuple[str, float]]:
    from jupyter_cache import get_cache

    rows = []
    for record in get_cache(CACHE).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            rows.append((str(Path(record.uri).relative_to(ROOT)), float(seconds)))
    return sorted(rows)


def main() -> int:
    if not CACHE.exists():
        print("No execution cache yet: run `make book` first for notebook and build times.")
        if importlib.util.find_spec("flatgap.reference.speed"):
            from flatgap.reference import speed

            speed.main()
        return 1
    rows = notebook_times()
    experiments = set(toc.experiment_chapters())
    width = max(len(name) for name, _ in rows)
    print(f"{'notebook':<{width}}  seconds")
    for name, seconds in rows:
        budget = 120 if name.removesuffix(".ipynb") in experiments else 60
        flag = "" if seconds <= budget else f"  (over the {budget} s budget)"
        print(f"{name:<{width}}  {seconds:7.1f}{flag}")
    print(f"{'total':<{width}}  {sum(s for _, s in rows):7.1f}")
    print()
    print("Warm rebuild now (nothing changed):")
    subprocess.call([sys.executable, str(ROOT / "tools" / "build_book.py")], cwd=ROOT, stdout=subprocess.DEVNULL)
    history = json.loads(RECORDS.read_text()) if RECORDS.exists() else []
    colds = [r for r in history if r["cold"] and r["status"] == 0]
    warms = [r for r in history if r["notebooks_executed"] == 0 and r["status"] == 0]
    if colds:
        print(f"  last cold build:  {colds[-1]['seconds']:.1f} s ({colds[-1]['notebooks_executed']} notebooks, {colds[-1]['finished']})")
    else:
        print("  no cold build recorded yet (`make clean-cache book` records one)")
    if warms:
        print(f"  warm rebuild:     {warms[-1]['seconds']:.1f} s")
    if importlib.util.find_spec("flatgap.reference.speed"):
        print()
        from flatgap.reference import speed

        speed.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
