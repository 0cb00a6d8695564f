"""Rules earn their place (issue 23.6): each rule of detect, segment, stray, verify and the pipeline
switched off in turn, and the hold-out's exact reads it wins and loses.

    nice -n 10 .venv/bin/python scripts/ablation.py [DATASET] [--cache FILE] [--only FIELD ...] [--jobs N]

Every file of the hold-out (`alpr.data.is_holdout`, as `python -m alpr eval DATASET --holdout`) is
read once with every rule on, then once per rule with that one config field at its "off" value
(`RULES` below says why that value makes the rule do nothing). A read counts when it is the exact
plate at the labeled box (top-1, as eval counts it). "lost when off" are the reads the rule wins;
"won when off" the reads it costs. Each read is kept in the cache file as it is made, so a run that
was stopped goes on where it stopped. Prints a Markdown table (docs/accuracy.md#ablation-issue-23).

`--all-files` reads every file of the dataset instead (the 773 development files: the hold-out
alone is too small to tell a rule worth one read from chance); `--together RULE ...` adds one
reading with those rules off together (repeatable; alone, it reads no single rule), printed as a
second table, since rules that back each other up win nothing one at a time:

    .venv/bin/python scripts/ablation.py --all-files --cache /tmp/ablation-all.json --only FIELD ...
    .venv/bin/python scripts/ablation.py --all-files --cache /tmp/ablation-all.json \
        --together detect.max_plate_aspect detect.min_row_chars --together segment.max_char_extent ...

Fields that are sizes, scales or budgets (detect.max_side, segment.plate_height, views_to_read, the
rank's weights, ...) have no value at which they do nothing and are not in `RULES`; `SKIPPED`
names them with the reason.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INF = 1e9
# (config section, field, off value, what switching it off does)
RULES: list[tuple[str, str, object, str]] = [
    # detect: plate and character shape rules, row building, the second looks
    ("detect", "max_plate_width_frac", 1.0, "a plate may span the whole photo's width"),
    ("detect", "max_plate_height_frac", 1.0, "... and its height"),
    ("detect", "min_plate_aspect", 0.0, "a plate-shaped blob of any narrowness"),
    ("detect", "max_plate_aspect", INF, "... and any width"),
    ("detect", "max_char_height_frac", 1.0, "a character as tall as the photo"),
    ("detect", "min_char_aspect", 0.0, "character blobs of any width"),
    ("detect", "max_char_aspect", INF, "... and any narrowness"),
    ("detect", "min_char_extent", 0.0, "a character blob of any ink share (thin frames too)"),
    ("detect", "max_char_extent", 1.0, "... solid blocks too"),
    ("detect", "row_join_gap", -1.0, "row pieces never joined across an emblem (-0.5 <= gap <= -1 never holds)"),
    ("detect", "min_row_chars", 1, "a row of any length is a plate candidate"),
    ("detect", "nms_iou", 1.0, "overlapping candidates all kept (only identical boxes merge)"),
    ("detect", "closeup_shrink", 0.0, "no close-up second look"),
    ("detect", "far_zoom", 0.0, "no far-plate second look"),
    # segment: glyph filters, splits and joins, extra views
    ("segment", "min_char_height_frac", 0.0, "glyphs of any height"),
    ("segment", "max_char_height_frac", 1.0, "... up to the crop's height"),
    ("segment", "min_char_aspect", 0.0, "boxes of any width are glyphs"),
    ("segment", "max_char_aspect", INF, "boxes of any narrowness are glyphs"),
    ("segment", "min_char_extent", 0.0, "boxes of any ink share are glyphs"),
    ("segment", "max_char_extent", 1.0, "... solid blocks too"),
    ("segment", "split_wide", 0.0, "no split-wide view"),
    ("segment", "split_min_confidence", 0.0, "the split-wide view chosen without its confidence test"),
    (
        "segment",
        "end_bar_tolerance",
        INF,
        "a row's end bar is never the frame by misalignment (its spacing test has no field)",
    ),
    ("segment", "refine_below", 0.0, "no re-crop around small glyphs"),
    ("segment", "piece_max_width", 0.0, "pieces of a glyph cut at a thin stroke never joined"),
    ("segment", "extend_best", 0, "no read again from a wider crop when a row touches the edge"),
    ("segment", "cut_max_link", 0.0, "glyphs never cut free of the state's artwork"),
    ("segment", "band_views_below", 0, "no stroke-band views"),
    ("segment", "band_cuts_glyphs", INF, "band views read even when the band runs through a clean row"),
    ("segment", "artwork_view_share", 0.0, "no red/green artwork views"),
    ("segment", "artwork_glyph_excess", INF, "artwork views read even when the glyphs are that colour"),
    # stray: marks at a row's ends (alpr/stray.py)
    ("read", "stray_end_min_row", 1000, "no end mark overruled at all (every stray rule)"),
    ("read", "stray_end_chars", "", "no thin-bar rules (height; a row longer than the country's plates)"),
    ("read", "stray_end_height_tolerance", INF, "a thin end bar never overruled by its height"),
    ("read", "stray_end_gap", INF, "an end mark never overruled by its spacing"),
    ("read", "stray_end_doubt", 0.0, "a doubtful end mark not judged by spacing"),
    # the pipeline: which candidates are read, which reads are reported
    ("read", "first_candidates", 12, "every kept candidate (detect.max_candidates) read at once"),
    ("read", "sure_confidence", 0.0, "no sure plate first: every first candidate read"),
    ("read", "sure_others_likelihood", 0.0, "after a sure plate, the other first candidates read too"),
    ("read", "sure_solo", 1, "only the best-ranked candidate read alone first"),
    ("read", "max_plates", 1000, "any number of plates per photo"),
    ("read", "min_chars", 0, "the best read reported at any length"),
    ("read", "min_confidence", 0.0, "... and any confidence"),
    ("read", "extra_min_chars", 0, "further plates at any length"),
    ("read", "extra_min_confidence", 0.0, "... any confidence"),
    ("read", "extra_min_score_ratio", 0.0, "... any score against the best"),
    # verify: plate or not (alpr/verify.py)
    ("verify", "enabled", False, "every verify rule off"),
    ("verify", "overlay_band", 0.0, "no timestamp-overlay rule"),
    ("verify", "narrow_share", INF, "no grille-of-narrow-glyphs rule"),
    ("verify", "max_chars", 1000, "no too-long rule"),
    ("verify", "extra_needs_digit", False, "further plates need no digit"),
]

SKIPPED = {
    "detect": "max_side, max_pixels, min_side, local_block (scales and windows); min_char_height (0 floods "
    "the labelling with specks; a size, not a rule); row_height_ratio, row_center_tolerance, row_max_gap "
    "(how a row is built: no value leaves rows as they are); max_blobs, max_candidates (budgets); "
    "closeup_plate_frac, closeup_char_frac (parts of the close-up look, off with closeup_shrink)",
    "segment": "plate_height, margin, local_block, local_offset (scales and thresholds); row_height_ratio, "
    "row_center_tolerance (row building); views_to_read, crop_views_to_read (budgets); piece_max_gap, "
    "joined_max_width (parts of the join, off with piece_max_width); extend_reach (off with extend_best); "
    "band_min_height, band_tolerance, band_max_height (parts of the band views, off with band_views_below); "
    "artwork_excess (off with artwork_view_share)",
    "verify": "overlay_digit_share (off with overlay_band); narrow_chars (off with narrow_share)",
    "rank": "fitted weights, not rules",
}

SETS = ("endtoend/us", "endtoend/eu", "endtoend/br", "plates/us")
# Measured first when time is short: the rules added last, each said to win 1-3 of the 254
# development photos in docs/accuracy.md, then the other switches, then the shape filters.
FIRST = (
    "detect.closeup_shrink",
    "detect.far_zoom",
    "segment.split_wide",
    "segment.piece_max_width",
    "segment.extend_best",
    "segment.cut_max_link",
    "segment.artwork_view_share",
    "read.stray_end_doubt",
    "segment.band_views_below",
    "segment.band_cuts_glyphs",
    "segment.artwork_glyph_excess",
    "segment.split_min_confidence",
    "read.stray_end_min_row",
    "read.stray_end_chars",
    "read.stray_end_gap",
    "read.stray_end_height_tolerance",
    "read.sure_confidence",
    "read.sure_others_likelihood",
    "read.sure_solo",
    "segment.refine_below",
    "segment.end_bar_tolerance",
    "verify.enabled",
    "detect.row_join_gap",
    "read.first_candidates",
)
# A plate crop is read without detection and as its one candidate: these never change its read,
# so crops keep their all-rules-on read and only the photos are read again.
PHOTOS_ONLY_READ = ("first_candidates", "sure_confidence", "sure_others_likelihood", "sure_solo")


def photos_only(section: str, field: str) -> bool:
    return section == "detect" or (section == "read" and field in PHOTOS_ONLY_READ)


def off_config(offs):
    """The shipped config with each (section, field, off value) of `offs` set; None for none."""
    from alpr.config import DEFAULT

    if not offs:
        return None
    config = DEFAULT
    for section, field, value in offs:
        config = replace(config, **{section: replace(getattr(config, section), **{field: value})})
    return config


def rule(key: str) -> tuple[str, str, object]:
    """(section, field, off value) of a rule named section.field, as `RULES` has it."""
    found = [(s, f, v) for s, f, v, _ in RULES if f"{s}.{f}" == key]
    if not found:
        raise SystemExit(f"no rule {key!r} in RULES (section.field, e.g. segment.split_wide)")
    return found[0]


def read_all(items, classifier, config) -> dict[str, dict]:
    from alpr.evaluate import evaluate_items

    out = {}
    for item, r in zip(items, evaluate_items(items, classifier, config=config)):
        out[str(item.path)] = {
            "group": item.group,
            "top1": r.top1,
            "read": r.read,
            "ms": round(r.ms, 1),
            "extra": r.extra,
        }
    return out


def _worker(args):
    key, offs, dataset, model, all_files = args
    classifier, items = _setup(dataset, model, all_files)
    if (offs and all(photos_only(s, f) for s, f, _ in offs)) or key.startswith("timing "):
        items = [item for item in items if item.box is not None]
    t0 = time.time()
    reads = read_all(items, classifier, off_config(offs))
    return key, reads, time.time() - t0


_STATE: dict = {}


def _setup(dataset: str, model: str | None, all_files: bool = False):
    if "items" not in _STATE:
        from alpr.classify import load_classifier
        from alpr.data import read_dataset
        from alpr.evaluate import select
        from alpr.training import registry

        _STATE["items"] = read_dataset(dataset) if all_files else select(read_dataset(dataset), holdout=True)
        _STATE["classifier"] = load_classifier(registry.resolve_model(model))
    return _STATE["classifier"], _STATE["items"]


def ms_change(cache: dict, key: str) -> str:
    """Median per photo of (rule off - all rules on) in the timing sitting: the photos read with the
    rule off between two all-rules-on readings, their per-photo mean the reference. The first
    pass's times are not compared: other work on the machine comes and goes over a long run."""
    before, after, off = (cache.get(f"timing {k}") for k in ("all rules on", "all rules on, again", key))
    if not (before and after and off):
        return "not timed"
    return f"{statistics.median(off[p]['ms'] - (before[p]['ms'] + after[p]['ms']) / 2 for p in off):+.0f}"


def extra_change(cache: dict, key: str) -> str:
    """Extra plates per photo (reported away from the labeled box), all rules on -> rule off, in the
    timing sitting (the first pass did not keep them)."""
    on, off = cache.get("timing all rules on"), cache.get(f"timing {key}")
    if not (on and off and all("extra" in r for r in (*on.values(), *off.values()))):
        return ""
    a, b = (sum(r["extra"] for r in reads.values()) / len(reads) for reads in (on, off))
    return f"{a:.2f} -> {b:.2f}"


def table(cache: dict) -> str:
    base = cache["all rules on"]
    lines = [
        "| rule | setting | on -> off | reads lost when off (= won by the rule) | reads won when off | net | "
        "median ms change per photo, rule off (one sitting) | extra plates per photo, on -> off (same sitting) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for section, field, value, why in RULES:
        key = f"{section}.{field}"
        if key not in cache:
            continue
        off = cache[key]
        lost = [p for p in base if base[p]["top1"] and not off[p]["top1"]]
        won = [p for p in base if not base[p]["top1"] and off[p]["top1"]]

        def where(paths):
            counts = {s: sum(base[p]["group"] == s for p in paths) for s in SETS}
            return ", ".join(f"{s.replace('endtoend/', '')} {n}" for s, n in counts.items() if n)

        lost_s = f"{len(lost)}" + (f" ({where(lost)})" if lost else "")
        won_s = f"{len(won)}" + (f" ({where(won)})" if won else "")
        rule = "stray" if field.startswith("stray_") else ("pipeline" if section == "read" else section)
        default = getattr(getattr(__import__("alpr.config", fromlist=["DEFAULT"]).DEFAULT, section), field)
        off_text = "inf" if value == INF else repr(value)
        lines.append(
            f"| {rule} | `{section}.{field}` ({why}) | {default!r} -> {off_text} | {lost_s} | {won_s} | "
            f"{len(lost) - len(won):+d} | {ms_change(cache, key)} | {extra_change(cache, key)} |"
        )
    return "\n".join(lines)


def together_table(cache: dict) -> str:
    """One row per group of rules switched off together: right, lost, won and extra plates."""
    base = cache["all rules on"]

    def extra(reads):
        return sum(r.get("extra", 0) for r in reads.values())

    lines = [
        "| switched off together | right | reads lost | reads won | extra plates |",
        "|---|---|---|---|---|",
        f"| none (all rules on) | {sum(r['top1'] for r in base.values())} of {len(base)} | | | {extra(base)} |",
    ]
    for key, off in cache.items():
        if key.startswith("together: "):
            lost = sum(base[p]["top1"] and not off[p]["top1"] for p in base)
            won = sum(not base[p]["top1"] and off[p]["top1"] for p in base)
            right = sum(r["top1"] for r in off.values())
            lines.append(f"| {key.removeprefix('together: ')} | {right} | {lost} | {won} | {extra(off)} |")
    return "\n".join(lines)


# Rules kept for another reason than reads: judge them by their time or their extra plates too.
NOT_FOR_READS = {
    "read.first_candidates": "speed",
    "read.sure_confidence": "speed",
    "read.sure_others_likelihood": "speed",
    "read.sure_solo": "speed",
    "read.max_plates": "fewer junk plates",
    "read.extra_min_chars": "fewer junk plates",
    "read.extra_min_confidence": "fewer junk plates",
    "read.extra_min_score_ratio": "fewer junk plates",
    "verify.enabled": "fewer junk plates",
    "verify.overlay_band": "fewer junk plates",
    "verify.narrow_share": "fewer junk plates",
    "verify.max_chars": "fewer junk plates",
    "verify.extra_needs_digit": "fewer junk plates",
}


def candidates(cache: dict, files: str = "hold-out") -> str:
    """One sentence per measured rule that wins fewer than 2 reads (issue 23.6's bar)."""
    base, out = cache["all rules on"], []
    for section, field, _, _ in RULES:
        off = cache.get(f"{section}.{field}")
        if off is None:
            continue
        wins = sum(base[p]["top1"] and not off[p]["top1"] for p in base)
        costs = sum(not base[p]["top1"] and off[p]["top1"] for p in base)
        if wins < 2:
            cost = f", and costs {costs}" if costs else ""
            purpose = NOT_FOR_READS.get(f"{section}.{field}")
            also = f" (it is there for {purpose}: weigh that too)" if purpose else ""
            out.append(
                f"- `{section}.{field}` wins {wins} {files} read{'s' * (wins != 1)}{cost}: "
                f"candidate for removal once the learned parts are in{also}."
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default=str(ROOT.parent / "shared/datasets/openalpr-benchmarks"))
    parser.add_argument("--cache", default="/tmp/alpr-ablation.json", help="reads kept here as they are made")
    parser.add_argument("--only", nargs="*", default=None, help="only these fields (e.g. far_zoom split_wide)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (only on an idle machine)")
    parser.add_argument("--model", default=None, help="a model version (default: the active one)")
    parser.add_argument("--table", action="store_true", help="print the table from the cache, read nothing")
    parser.add_argument(
        "--time",
        nargs="*",
        default=None,
        help="a timing sitting: the photos read with all rules on, with each of these rules (section.field) "
        "off, and with all on again, one after the other",
    )
    parser.add_argument("--minutes", type=float, default=0, help="start no further rule after this long")
    parser.add_argument(
        "--all-files",
        action="store_true",
        help="read every file of the dataset, not only the hold-out (use another --cache: the keys are the same)",
    )
    parser.add_argument(
        "--together",
        nargs="+",
        action="append",
        default=[],
        metavar="RULE",
        help="also one reading with all these rules (section.field) off together; repeat for several groups",
    )
    args = parser.parse_args(argv)

    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    todo = [("all rules on", ())] if "all rules on" not in cache else []
    order = sorted(RULES, key=lambda r: FIRST.index(f"{r[0]}.{r[1]}") if f"{r[0]}.{r[1]}" in FIRST else len(FIRST))
    for section, field, value, _ in order:
        key = f"{section}.{field}"
        if key not in cache and (args.only is None or field in args.only):
            todo.append((key, ((section, field, value),)))
    if args.together and args.only is None:  # the groups alone (and the reference), not every rule
        todo = [t for t in todo if t[0] == "all rules on"]
    for group in args.together:
        key = "together: " + " + ".join(group)
        if key not in cache:
            todo.append((key, tuple(rule(k) for k in group)))
    if args.time:
        todo = [(f"timing {k}", (rule(k),)) for k in args.time]
        # A warm-up reading first: the first photos of a process pay for TensorFlow's graph tracing.
        on = [("timing all rules on", ())]
        todo = [("timing warm-up", ()), *on, *todo, ("timing all rules on, again", ())]
    if args.table:
        todo = []
    t_start = time.time()
    jobs = [(key, offs, args.dataset, args.model, args.all_files) for key, offs in todo]
    if args.jobs > 1 and jobs:
        import multiprocessing

        if jobs[0][0] == "all rules on":  # the reference first, in this process
            key, reads, s = _worker(jobs.pop(0))
            cache[key] = reads
            cache_path.write_text(json.dumps(cache))
            print(f"{key}: {s:.0f} s", file=sys.stderr, flush=True)
        results = multiprocessing.get_context("fork").Pool(args.jobs).imap_unordered(_worker, jobs)
    else:
        results = map(_worker, jobs)
    for key, reads, seconds in results:
        if key != "all rules on" and not key.startswith("timing "):
            reads = {**cache["all rules on"], **reads}  # crops a photos-only rule cannot change
        cache[key] = reads
        cache_path.write_text(json.dumps(cache))
        print(f"{key}: {seconds:.0f} s ({time.time() - t_start:.0f} s in all)", file=sys.stderr, flush=True)
        if args.minutes and time.time() - t_start > 60 * args.minutes:
            print(f"stopped after {args.minutes} minutes; run again to go on", file=sys.stderr)
            break
    if "all rules on" not in cache:
        return 1
    base = cache["all rules on"]
    for s in SETS:
        n = [r for r in base.values() if r["group"] == s]
        print(f"all rules on, {s}: {sum(r['top1'] for r in n)} of {len(n)} exact", file=sys.stderr)
    print(table(cache))
    print()
    print(candidates(cache, "development" if args.all_files else "hold-out"))
    if any(key.startswith("together: ") for key in cache):
        print()
        print(together_table(cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
