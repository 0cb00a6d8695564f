"""`python -m alpr recognize CLIP.mp4`: the clip half of the recognize command."""

from __future__ import annotations

import json
import sys

from alpr.cli.argtypes import positive_float, whole_number


def add_options(parser) -> None:
    """The clip options of `recognize` (photos ignore them)."""
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument(
        "--every", type=whole_number(1), default=None, metavar="N", help="clips: read every Nth frame"
    )
    sampling.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        metavar="F",
        help="clips: read F frames per second of clip (default 2)",
    )
    parser.add_argument(
        "--frames",
        action="store_true",
        help="clips: with --json, also one alpr -j line per sampled frame (with frame and time_s)",
    )


def split(names: list[str]) -> tuple[list[str], list[str]]:
    """(photos, clips) among the recognize arguments, by extension or content."""
    from alpr.video.decode import is_clip

    clips = [n for n in names if is_clip(n)]
    return [n for n in names if n not in clips], clips


def run(clips: list[str], args, classifier, hooks=None) -> int:
    """Read each clip; print its groups (and frames), and send each to `hooks` (alpr.webhooks.cli's
    RunWebhooks) when given; 1 when any clip could not be read."""
    from alpr.errors import VideoError
    from alpr.labels.watch import watchlist_of
    from alpr.video.config import DEFAULT_VIDEO
    from alpr.video.reader import read_clip
    from alpr.video.report import frame_json, to_alpr_group

    config = DEFAULT_VIDEO.sampling(every=getattr(args, "every", None), fps=getattr(args, "fps", None))
    watch = watchlist_of()  # the data folder's watch list; () when it has no label database
    failed = 0
    for name in clips:
        bar = _Progress(name)

        def on_frame(frame, rec, name=name):
            if args.json and args.frames:
                print(json.dumps(frame_json(rec, name, frame.index, frame.time_s, watch)), flush=True)

        try:
            clip = read_clip(
                name,
                classifier,
                config,
                country=args.country,
                topn=args.topn,
                name=name,
                progress=bar,
                on_frame=on_frame,
                warn=bar.warn,
            )
        except VideoError as exc:
            bar.clear()
            failed += 1
            print(f"error: {exc}", file=sys.stderr)  # the message names the clip
            if args.json:
                print(json.dumps({"filename": name, "error": str(exc)}), flush=True)
            continue
        bar.clear()
        for group in clip.groups:
            if args.json:
                print(json.dumps(to_alpr_group(group, name, watch)), flush=True)
            if hooks is not None:
                from alpr.webhooks.reads import from_group

                hooks.send(lambda h: from_group(group, name, args.country, hooks.camera, h))  # noqa: B023
        if not args.json:
            _print_groups(name, clip, watch)
        print(
            f"{name}: {len(clip.frames)} frames read in {clip.seconds:.1f} s ({clip.frames_per_s:.1f}/s), "
            f"{len(clip.groups)} vehicle(s)",
            file=sys.stderr,
            flush=True,
        )
    return 1 if failed else 0


class _Progress:
    """Progress of one clip on stderr: a redrawn bar on a terminal, a line every 10 s of clip otherwise."""

    def __init__(self, name: str):
        self.name, self.tty, self.next_line, self.drawn = name, sys.stderr.isatty(), 10.0, False

    def __call__(self, done_s: float, total_s: float) -> None:
        total = f"/{total_s:.0f}" if total_s else ""
        if self.tty:
            sys.stderr.write(f"\r{self.name}: {done_s:.1f}{total} s read ")
            sys.stderr.flush()
            self.drawn = True
        elif done_s >= self.next_line:
            print(f"{self.name}: {done_s:.0f}{total} s read", file=sys.stderr, flush=True)
            self.next_line += 10.0

    def warn(self, message: str) -> None:
        self.clear()
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[K")
            self.drawn = False


def _print_groups(name: str, clip, watch=()) -> None:
    from alpr.watchlist import match

    info = clip.info
    print(f"{name}: {info.width}x{info.height} {info.codec}, {info.duration_s:.1f} s, {len(clip.groups)} vehicle(s)")
    if not clip.groups:
        print("  no plate followed across frames")
    for g in clip.groups:
        print(
            f"  {g.plate:<10} {g.confidence:6.2f}  {g.time_start_s:6.2f}-{g.time_end_s:6.2f} s  "
            f"frames {g.frame_start}-{g.frame_end} ({g.frame_count} read)  {g.direction or ''}"
        )
        found = match(g.plate, watch) if watch else None
        if found is not None:
            said = f"{found.entry.plate} {found.entry.name}".strip()
            print(f"    on the watch list: {said}{' (alert)' if found.alert else ''}")
    print(flush=True)
