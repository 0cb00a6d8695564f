"""Several browser sessions reading and relabeling photos on one app server at once, plus a labeling script.

    .venv/bin/python scripts/load_test.py [--sessions 4] [--rounds 1] [--script-adds 3] [--screenshots]

Starts `streamlit run app.py` with a temporary label store, opens SESSIONS browser contexts in Debian's
Chromium (one Streamlit session each) and has every session, ROUNDS times: upload a different
synthetic photo on Recognize, wait for the read, open it on Relabel and correct its first character.
Meanwhile a script process runs `python -m alpr labels add-plate` one photo after another (at least
SCRIPT_ADDS times, then until the sessions finish). Afterwards every label is looked up in the store.
Prints one table row: what was read and written, what was found, the wall time, the server's peak
resident memory (VmHWM) and how often the server loaded the model. The same as tests/slow/test_load.py
with other sizes; not a test: the times depend on the machine and on what else it runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import CHROMIUM, streamlit_server  # noqa: E402
from load_support import labeled_photos, model_loads, readable_photos, run_load  # noqa: E402

from alpr.labels.store import LabelStore  # noqa: E402

COLUMNS = (
    "sessions",
    "rounds",
    "photos read",
    "reads as recognize",
    "labels written",
    "labels found",
    "wall s",
    "median read s",
    "server peak RSS MB",
    "model loads",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="browser sessions at once (default 4)")
    parser.add_argument("--rounds", type=int, default=1, help="photos each session reads and relabels (default 1)")
    parser.add_argument(
        "--script-adds",
        type=int,
        default=3,
        help="`labels add-plate` runs at least (default 3); more while the sessions still run",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds any one page may take to answer")
    parser.add_argument("--screenshots", action="store_true", help="save each session's first round to test-artifacts/")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"needs Chromium at {CHROMIUM}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="alpr-load-"))
    data = work / "data"
    print(f"choosing {args.sessions * args.rounds} photos the model reads a plate in…", file=sys.stderr)
    photos = readable_photos(work / "photos", args.sessions * args.rounds, seed=args.seed)
    session_photos = [photos[n * args.rounds : (n + 1) * args.rounds] for n in range(args.sessions)]
    script_photos = labeled_photos(work / "photos", None, seed=args.seed + 1000)  # drawn as the script asks
    with streamlit_server("streamlit-server-load-bench.log", ALPR_DATA_DIR=str(data)) as server:
        result = run_load(
            server.url,
            data,
            session_photos,
            script_photos,
            args.script_adds,
            timeout_ms=int(args.timeout * 1000),
            screenshots=args.screenshots,
        )
        memory = server.memory_mb()
    loads = model_loads(server.log_text())

    found = 0
    with LabelStore.open(data) as store:
        for r in result.reads:
            first = store.plate_chars(r.plate_id)[0]
            found += (first.label, first.source) == (r.photo.fix, "person")
        for a in result.added:
            found += store.plate(a.plate_id).text_confirmed == a.text
    as_recognize = sum(r.shown == r.photo.plates for r in result.reads)
    row = (
        args.sessions,
        args.rounds,
        len(result.reads),
        as_recognize,
        len(result.reads) + len(result.added),
        found,
        f"{result.wall_s:.1f}",
        f"{statistics.median(r.read_s for r in result.reads):.1f}",
        f"{memory['peak']:.0f}",
        loads,
    )
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    print("| " + " | ".join(str(v) for v in row) + " |")
    print(
        f"({len(result.reads)} corrections from the browsers, {len(result.added)} plates from the script, "
        f"{statistics.mean(a.seconds for a in result.added):.1f} s per `labels add-plate`; "
        f"server log {server.log_path})"
    )
    ok = as_recognize == len(result.reads) and found == len(result.reads) + len(result.added) and loads == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
