"""The facade: `recognize(image)` runs the four stages and returns every intermediate result.

The page, the CLI and the tests all look at the same `Recognition` object, so what the page draws is
exactly what was decided.

Every choice among reads (a candidate's segmentations, the wider crop against the first, the
plates to report, in what order) compares scores through `alpr.ties`: scores within
`ties.tolerance` of each other tie, and tied reads go by `tie_key`: the one that fits the
country's formats, then one of the country's plate lengths, then the one cut into fewer segments,
then the order detection and segmentation proposed them in (pixels only). So no read depends on a
probability's last bits, which differ from one CPU to the next.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np

from alpr import ties
from alpr.assemble import Country, assemble, country, matches
from alpr.classify import CharClassifier, load_classifier
from alpr.combine import Combiner, choose
from alpr.config import DEFAULT, Config, DetectConfig, RankConfig
from alpr.errors import InputError
from alpr.plate_reader import PlateReader, load_plate_reader, reader_path, strip
from alpr.detect import find_plates, to_grey
from alpr.segment import crop_plate, segment_all
from alpr.stray import overrule_stray_ends
from alpr.types import REJECT, Box, Candidate, PlateCandidate, PlateRead, Recognition

_default_reader: CharClassifier | None = None
# Threads (Streamlit sessions, a thread pool) that ask for the model at the same moment must not
# each load their own copy: one loads, the others wait for it.
_default_lock = threading.Lock()


def default_classifier() -> CharClassifier:
    """The shipped model, loaded once per process, whichever thread asks first."""
    global _default_reader
    if _default_reader is None:
        with _default_lock:
            if _default_reader is None:
                _default_reader = load_classifier()
    return _default_reader


# By the path $ALPR_PLATE_READER names ("" for none) and the runtime that reads it.
_default_whole: dict[tuple[str, str], PlateReader | None] = {}


def default_plate_reader(runtime: str = "keras", model_path=None) -> PlateReader | None:
    """The whole-plate reader (alpr/plate_reader.py) of the character model at `model_path` (its
    version's own, else the shipped one), or the one $ALPR_PLATE_READER names, loaded once per
    process, file and runtime; None without one. `recognize` asks for it in the character
    classifier's runtime, so `--runtime onnx` reads every learned part with ONNX Runtime."""
    path = reader_path(model_path)
    key = (str(path or ""), runtime)
    if key not in _default_whole:
        with _default_lock:
            if key not in _default_whole:
                _default_whole[key] = load_plate_reader(path, runtime) if path else None
    return _default_whole[key]


def recognize(
    image: np.ndarray,
    country: str = "us",
    topn: int = 10,
    plate_crop: bool = False,
    classifier: CharClassifier | None = None,
    config: Config = DEFAULT,
    plate_reader: PlateReader | None | bool = True,
) -> Recognition:
    """Find, segment and read the plates of an RGB photo.

    With `plate_crop=True` the image is taken to be a plate already cropped (OpenALPR's
    segmentation+OCR benchmark mode) and detection is skipped. `plate_reader`: the whole-plate
    reader that reads the reported plates again and, with its combiner, chooses their strings;
    True for the shipped one (none when none is shipped), False or None for none.
    """
    _check_country(country)
    if topn < 1:
        raise InputError(f"topn must be at least 1, got {topn}")
    classifier = classifier or default_classifier()
    config = _with_version_rank(config, classifier)
    whole_reader = (
        default_plate_reader(classifier.runtime, classifier.info.path) if plate_reader is True else plate_reader or None
    )
    image = np.ascontiguousarray(image)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    if plate_crop:
        box = Box(0, 0, image.shape[1], image.shape[0])
        whole = PlateCandidate(box, "given", "none", 0, 0.0, True, "the whole image is the plate")
        timings["detect"] = 0.0
        reads, stage_ms = _read_candidates(image, [whole], classifier, country, topn, config, margin=False)
        reads = _recall(reads, classifier, country, topn, timings)
        timings.update(stage_ms)
        plates = tuple(read for score, read in reads if read.predictions)[:1]
        plates = _read_whole(plates, whole_reader, country, timings)
        grey = to_grey(image)
        return Recognition(
            image,
            grey,
            1.0,
            np.zeros(grey.shape, np.int32),
            (),
            (whole,),
            plates,
            country,
            topn,
            _total(timings, t0),
        )

    detection = find_plates(image, config.detect, config.rank)
    timings["detect"] = (time.perf_counter() - t0) * 1000
    candidates = detection.candidates
    kept = [c for c in candidates if c.kept]
    # The best-ranked candidates first; the rest only when none of them held a plate to report.
    # The best `sure_solo` are read one at a time, so a sure plate among them ends the reading.
    first = config.read.first_candidates
    solo = min(config.read.sure_solo, first) if config.read.sure_confidence > 0 else 0
    raw, plates, rejected, stage_ms = [], [], [], {"segment": 0.0, "classify": 0.0, "assemble": 0.0}

    def read_more(chosen: list) -> None:
        """Read `chosen` too, then choose the plates again among every read so far."""
        nonlocal raw, plates, rejected, stage_ms
        more, more_ms = _read_candidates(image, chosen, classifier, country, topn, config)
        stage_ms = {k: stage_ms[k] + more_ms[k] for k in stage_ms}
        raw, plates, rejected = _choose_again(raw + more, classifier, country, topn, config, image.shape[0], timings)

    done = 0
    for step in [1] * solo + [first - solo]:
        if step <= 0 or done >= len(kept) or (done and _sure(plates, config)):
            break
        read_more(kept[done : done + step])
        done += step
    others, passed = kept[done:first], []
    if others and _sure(plates, config):
        # A sure plate from the best candidates: only another likely plate is worth reading.
        likely = {id(c) for c in others if ties.at_least(c.likelihood, config.read.sure_others_likelihood)}
        passed = [c for c in others if id(c) not in likely]
        others = [c for c in others if id(c) in likely]
    if others:
        read_more(others)
    if passed:
        why = f"kept, not read: ranked under {config.read.sure_others_likelihood:.0%} after a sure plate"
        candidates = _with_reason(candidates, passed, why)
    if not plates and len(kept) > first:
        read_more(kept[first:])
    elif len(kept) > first:
        why = f"kept, not read: the {first} better-ranked candidates held the plate"
        candidates = _with_reason(candidates, kept[first:], why)
    # Nothing read, or only words (a close-up's state name): perhaps the plate was too big to find,
    # or too small. Each pass's reads compete with the ones before.
    for look in _second_looks(config.detect):
        if any(ch.isdigit() for p in plates[:1] for ch in p.plate):
            break
        more_cands, more, more_ms = _second_look(image, look, classifier, country, topn, config)
        timings["detect"] += more_ms.pop("detect")
        stage_ms = {k: stage_ms[k] + more_ms[k] for k in stage_ms}
        candidates += more_cands
        if more:
            raw, plates, rejected = _choose_again(
                raw + more, classifier, country, topn, config, image.shape[0], timings
            )
    timings.update(stage_ms)
    plates = _read_whole(tuple(plates), whole_reader, country, timings)
    return Recognition(
        image,
        detection.grey,
        detection.scale,
        detection.overlay.labels,
        detection.components,
        candidates,
        tuple(plates),
        country,
        topn,
        _total(timings, t0),
        _distinct(rejected),
    )


def _with_version_rank(config: Config, classifier: CharClassifier) -> Config:
    """CONFIG with the plate scorer the classifier's version was trained with (a training run refits
    it from the store's plate boxes, alpr/training/rank_step.py), unless the caller chose a rank."""
    fitted = RankConfig.from_dict(classifier.info.metadata.get("rank"))
    if fitted is None or config.rank != DEFAULT.rank:
        return config
    return replace(config, rank=fitted)


def _read_whole(plates: tuple, reader: PlateReader | None, country_code: str, timings: dict) -> tuple:
    """The reported plates, each read again by the whole-plate reader (one batch for all of them)
    and its string chosen by the combiner."""
    if reader is None or not plates:
        return plates
    t0 = time.perf_counter()
    wholes = reader.read([plate_strip(p) for p in plates])
    combiner = Combiner.from_dict(reader.combiner)
    out = tuple(with_whole_read(p, whole, combiner, country_code) for p, whole in zip(plates, wholes))
    timings["whole"] = (time.perf_counter() - t0) * 1000
    return out


def plate_strip(plate: PlateRead) -> np.ndarray:
    """The whole-plate reader's input for a read plate: the strip of its crop at its box."""
    return strip(plate.crop, plate.box.shifted(-plate.crop_box.x, -plate.crop_box.y))


def with_whole_read(plate: PlateRead, whole, combiner: Combiner, country_code: str) -> PlateRead:
    """`plate` with the whole-plate reader's read of it and the string `combiner` chooses, as
    `recognize` reports it (training's reader gate counts through this too, so it judges a reader
    by what recognize would say). A plate the memory recalled keeps the recalled text."""
    if plate.recalled is not None:
        return replace(plate, whole=whole, why="the plate memory's recall stands")
    templates = country(country_code).templates
    choice = choose(plate.candidates, whole, lambda text: matches(text, templates), combiner)
    return replace(plate, candidates=choice.candidates, whole=whole, why=choice.why)


def _with_reason(candidates: tuple, chosen: list, why: str) -> tuple:
    """The candidates, those in `chosen` with `why` as their reason (the page shows it)."""
    ids = {id(c) for c in chosen}
    return tuple(replace(c, reason=why) if id(c) in ids else c for c in candidates)


def _sure(plates, config: Config) -> bool:
    """Whether the best plate read so far fits the country's formats at read.sure_confidence."""
    best = plates[0] if plates else None
    return bool(best and best.matches_template and ties.at_least(best.confidence, config.read.sure_confidence))


def _choose_again(raw, classifier, country_code, topn, config: Config, image_height: int, timings: dict):
    """Every read so far, best first, the plates chosen among them and the reads rejected; again
    each time more candidates or a second look add reads."""
    raw = _ranked(raw, country_code)
    rejected: list = []
    plates = _choose_plates(_recall(raw, classifier, country_code, topn, timings), config, image_height, rejected)
    return raw, plates, rejected


def _distinct(rejected: list) -> tuple:
    """The reads not reported, one per text and place: a second look reads the same state name again."""
    out: list = []
    for read, why in rejected:
        if not any(read.plate == seen.plate and read.box.iou(seen.box) > 0.5 for seen, _ in out):
            out.append((read, why))
    return tuple(out)


def _second_looks(d: DetectConfig) -> list[tuple[str, DetectConfig]]:
    """The detection settings of the passes that follow when no plate was read, in order.

    A close-up: a photo taken a metre from the bumper breaks the size rules (a plate at most a
    quarter of the photo wide, glyphs at most 12% of its height) and its 100 px glyphs are wider
    than the local threshold's window; shrunk `detect.closeup_shrink` times further with those
    limits relaxed, the plate is an ordinary candidate. A far plate: glyphs 10 px tall at the
    usual scale touch each other and the frame; at `detect.far_zoom` times that scale they part.
    """
    looks = []
    if d.closeup_shrink > 1:
        looks.append(
            (
                "close-up pass",
                replace(
                    d,
                    max_pixels=int(d.max_pixels / d.closeup_shrink**2),
                    max_side=int(d.max_side / d.closeup_shrink),
                    min_side=0,
                    max_plate_width_frac=d.closeup_plate_frac,
                    max_plate_height_frac=d.closeup_plate_frac,
                    max_char_height_frac=d.closeup_char_frac,
                ),
            )
        )
    if d.far_zoom > 1:
        z = d.far_zoom
        looks.append(
            (
                "far-plate pass",
                replace(
                    d, max_pixels=int(d.max_pixels * z * z), max_side=int(d.max_side * z), min_side=int(d.min_side * z)
                ),
            )
        )
    return looks


def _second_look(image, look: tuple[str, DetectConfig], classifier, country_code, topn, config: Config):
    """Detection and reading once more with other settings (`_second_looks`). Returns the
    candidates (their reason says which pass found them), their reads and the ms per stage."""
    t0 = time.perf_counter()
    name, settings = look
    found = find_plates(image, settings, config.rank).candidates
    detect_ms = (time.perf_counter() - t0) * 1000
    found = tuple(replace(c, reason=f"{name} (no plate read before): {c.reason}") for c in found)
    kept = [c for c in found if c.kept][: config.read.first_candidates]
    raw, ms = _read_candidates(image, kept, classifier, country_code, topn, config) if kept else ([], {})
    ms = {"segment": 0.0, "classify": 0.0, "assemble": 0.0, **ms, "detect": detect_ms}
    return found, raw, ms


def _choose_plates(
    reads: list[tuple[float, PlateRead]], config: Config, image_height: int = 0, rejected: list | None = None
) -> list[PlateRead]:
    """The reads convincing enough to report, best first, one per place in the photo. Reads the
    verifier calls no plate are appended to `rejected` as (read, why)."""
    from alpr.verify import why_not_a_plate

    rc = config.read

    def junk(read: PlateRead, first: bool) -> bool:
        if read.recalled is not None:  # a plate a person labeled is a plate
            return False
        return bool(image_height) and bool(why_not_a_plate(read, image_height, first, config.verify))

    plates: list[PlateRead] = []
    reads = [(score, read) for score, read in reads if not _lettering_of(read, reads, rc.min_chars, rejected)]
    # A read the verifier calls no plate (a timestamp, a grille) is not reported and does not set
    # the bar for the others: the real plate behind it is judged as the first plate.
    best_score = next((score for score, read in reads if not junk(read, True)), 0.0)
    for score, read in reads:
        if score <= 0 or len(plates) >= rc.max_plates:
            continue
        first = not plates
        if junk(read, first):
            if rejected is not None:
                rejected.append((read, why_not_a_plate(read, image_height, first, config.verify)))
            continue
        if read.recalled is not None and not any(read.box.iou(p.box) > 0.1 for p in plates):
            plates.append(read)
            continue
        min_chars = rc.min_chars if first else rc.extra_min_chars
        min_conf = rc.min_confidence if first else rc.extra_min_confidence
        if len(read.plate) < min_chars or not ties.at_least(read.confidence, min_conf):
            continue
        if not first and not ties.at_least(score, rc.extra_min_score_ratio * best_score):
            continue
        if any(read.box.iou(p.box) > 0.1 for p in plates):
            continue  # a second read of a plate already chosen
        plates.append(read)
    return plates


def _lettering_of(read: PlateRead, reads, min_chars: int, rejected: list | None) -> bool:
    """Whether `read` is small print on another read's plate: the state's name above a close-up's
    number lies inside the plate's box in glyphs a third of the size, and reads more confidently
    (a digit-free word, full of clear letters). The number is the biggest text on a plate. The
    other read must look like a number: `min_chars` characters or more, a digit among them."""
    if not read.chars:
        return False
    height = float(np.median([c.box.h for c in read.chars]))
    for _, other in reads:
        if other is read or len(other.plate) < min_chars or not any(ch.isdigit() for ch in other.plate):
            continue
        inside = read.box.intersection_area(other.box) >= 0.8 * read.box.area
        if inside and float(np.median([c.box.h for c in other.chars])) >= 1.5 * height:
            if rejected is not None:
                rejected.append((read, f"lettering on the plate {other.plate!r}: smaller glyphs inside its box"))
            return True
    return False


def _recall(reads, classifier: CharClassifier, country_code: str, topn: int, timings: dict):
    """Reads that look like a plate a person labeled get its text as their first candidate and
    rank first (alpr/memory.py); the others are unchanged. Returns [(score, read)] best first."""
    memory = classifier.memory
    if memory is None or not len(memory):
        return reads
    t0 = time.perf_counter()
    top = max((score for score, _ in reads), default=0.0)
    out = []
    for score, read in reads:
        recalled = memory.recall(read, country_code)
        if recalled is None:
            out.append((score, read))
            continue
        fits = matches(recalled.text, country(country_code).templates)
        remembered = Candidate(recalled.text, round(100 * recalled.similarity, 1), fits)
        others = tuple(c for c in read.candidates if c.plate != recalled.text)
        read = replace(read, candidates=(remembered, *others)[:topn], recalled=recalled)
        # Ahead of every read the memory does not know, the surest match first.
        out.append((top + 1 + recalled.similarity, read))
    out = _ranked(out, country_code)
    timings["recall"] = (time.perf_counter() - t0) * 1000
    return out


def _first_plausible(reads, image_height: int, config: Config):
    """The best read that passes the verifier's first-plate rules (a digit-free vanity plate may lead)."""
    from alpr.verify import why_not_a_plate

    for score, read in reads:
        if score > 0 and not why_not_a_plate(read, image_height, first=True, config=config.verify):
            return read
    return None


def _read_candidates(image, candidates, classifier, country_code, topn, config: Config, margin: bool = True):
    """Segment every candidate a few ways, classify all crops in one batch, keep each one's best read.

    Then the best few reads whose row runs into their crop's edge are read again from a wider crop
    (`_extend`), and keep the better of the two. Returns [(score, PlateRead)] best first, and the
    milliseconds spent per stage.
    """
    t0 = time.perf_counter()
    jobs = []  # (candidate index, crop, crop box, segmentation)
    views = config.segment.views_to_read if margin else config.segment.crop_views_to_read
    for i, cand in enumerate(candidates):
        crop, crop_box = crop_plate(image, cand.box, config.segment) if margin else (image, cand.box)
        segs = segment_all(
            crop, config.segment, classifier.input_size, limit=views, whole_plate=not margin, split_wide=True
        )
        jobs += [(i, crop, crop_box, seg) for seg in segs if seg.chars]
        refined = _refine(image, segs[0], crop_box, config) if margin else None
        if refined is not None:
            crop, crop_box = refined
            segs = segment_all(crop, config.segment, classifier.input_size, limit=views, split_wide=True)
            jobs += [(i, crop, crop_box, seg) for seg in segs if seg.chars]
    ms = {"segment": 0.0, "classify": 0.0, "assemble": 0.0}
    best = _best_reads(jobs, classifier, country_code, topn, config, ms, t0)

    if margin:
        t0 = time.perf_counter()
        wider = []
        spec = country(country_code)
        ranked = ties.ranked(best.items(), lambda item: item[1][0], lambda item: tie_key(item[1][1], spec))
        ranked = ranked[: config.segment.extend_best]
        for i, (_, read) in ranked:
            extended = _extend(image, read, config)
            if extended is not None:
                crop, crop_box = extended
                # One view: the row was found already, only its ends are in question.
                segs = segment_all(crop, config.segment, classifier.input_size, limit=1, split_wide=True)
                wider += [(i, crop, crop_box, seg) for seg in segs if seg.chars]
        for i, (score, read) in _best_reads(wider, classifier, country_code, topn, config, ms, t0).items():
            # The wider crop replaces the first only when it scores better beyond a tie.
            best[i] = ties.best([best[i], (score, read)], lambda sr: sr[0], lambda sr: tie_key(sr[1], spec))

    per_plate = sum(ms.values()) / max(len(candidates), 1)
    reads = [(score, replace(read, processing_time_ms=round(per_plate, 2))) for score, read in best.values()]
    return _ranked(reads, country_code), ms


def _best_reads(jobs, classifier, country_code, topn, config: Config, ms: dict, t0: float):
    """{candidate index: (score, PlateRead)}, the best-scoring of each candidate's segmentations.

    Adds the time since `t0` (segmenting), classifying and assembling to `ms`."""
    t1 = time.perf_counter()
    crops = [c for job in jobs for c in job[3].chars]
    predictions = classifier.predict(crops, k=max(5, config.assemble.per_char_k)) if crops else []
    t2 = time.perf_counter()
    views: dict[int, list[tuple[float, PlateRead]]] = {}  # per candidate, its reads in the segmenter's order
    spec = country(country_code)
    max_length = spec.max_length
    start = 0
    for i, crop, crop_box, seg in jobs:
        preds = overrule_stray_ends(
            seg.chars, tuple(predictions[start : start + len(seg.chars)]), config.read, max_length
        )
        start += len(seg.chars)
        read = PlateRead(
            box=_tight_box(seg, crop_box),
            crop_box=crop_box,
            crop=np.ascontiguousarray(crop),
            chars=seg.chars,
            predictions=preds,
            candidates=assemble(preds, country_code, topn, config.assemble, classifier.priors),
            binarization=seg.binarization,
            processing_time_ms=0.0,
        )
        if seg.binarization.endswith("+split") and not _sure_split(read, split_limit(spec), config.segment):
            continue
        views.setdefault(i, []).append((_plate_score(read), read))
    best = {i: ties.best(reads, lambda sr: sr[0], lambda sr: tie_key(sr[1], spec)) for i, reads in views.items()}
    t3 = time.perf_counter()
    ms["segment"] += (t1 - t0) * 1000
    ms["classify"] += (t2 - t1) * 1000
    ms["assemble"] += (t3 - t2) * 1000
    return best


def _sure_split(read: PlateRead, max_length: int, config) -> bool:
    """Whether a row with its wide boxes cut in two (segment._split_wide) may compete at all:
    every character read surely, and no longer than the country's plates (`split_limit`; 0 for
    no limit). Its extra characters would otherwise outscore the uncut row whenever the halves of
    a W read as a fair "V" each."""
    sure = [p.confidence for p in read.predictions if p.char != REJECT]
    fits = not max_length or len(read.plate) <= max_length
    return bool(sure) and fits and ties.at_least(min(sure), config.split_min_confidence)


def split_limit(spec: Country) -> int:
    """The most characters a cut row may read as: the country's `max_length`, and no more than
    its longest format. A row of European text cut into 8 pieces, each read surely, outscores a
    7-character plate (8 confident characters to 7); no European format is 8 long."""
    return min(spec.max_length, spec.longest) if spec.max_length else spec.longest


def tie_key(read: PlateRead, spec: Country) -> tuple:
    """How reads whose scores tie (alpr/ties.py) are ordered, lowest first: one that fits the
    country's formats, then one of the country's plate lengths, then one cut into fewer segments.
    Reads still level keep the order detection and segmentation proposed them in."""
    return (not read.matches_template, not spec.has_length(len(read.plate)), len(read.chars))


def _ranked(reads: list[tuple[float, PlateRead]], country_code: str) -> list[tuple[float, PlateRead]]:
    """[(score, read)] best first, ties by `tie_key`."""
    spec = country(country_code)
    return ties.ranked(reads, lambda sr: sr[0], lambda sr: tie_key(sr[1], spec))


def _refine(image, seg, crop_box: Box, config: Config):
    """A second, tighter crop when the characters fill little of the candidate's height.

    A candidate found as a light region (a bumper recess, a plate holder) can be twice the plate's
    height; thresholds and the 100 px working height are tuned for a crop about the plate's size.
    The new crop spans the characters found plus about one character on each side, so a glyph
    the first pass missed at either end is inside it.
    """
    if len(seg.chars) < 3:
        return None
    heights = [c.box.h for c in seg.chars]
    h = float(np.median(heights))
    if h >= config.segment.refine_below * crop_box.h:
        return None
    x0 = min(c.box.x for c in seg.chars) - h
    x1 = max(c.box.x2 for c in seg.chars) + h
    y0 = min(c.box.y for c in seg.chars)
    y1 = max(c.box.y2 for c in seg.chars)
    box = Box(int(crop_box.x + max(0, x0)), int(crop_box.y + y0), int(x1 - max(0, x0)), int(y1 - y0))
    return crop_plate(image, box, config.segment)


def _extend(image, read: PlateRead, config: Config):
    """A wider crop when a read's row runs into its crop's left or right edge: the plate goes on.

    A candidate found as a row of glyphs stops where a glyph touched the plate's edge, its
    frame or a bolt and failed the character test ("K5419" of JSK5419); the crop then cuts a
    glyph in half. The new crop reaches `segment.extend_reach` glyph heights further on each side
    the row touches. None when the row touches neither edge, or the photo ends there.
    """
    if len(read.chars) < 3:
        return None
    left = min(c.box.x for c in read.chars) <= 1
    right = max(c.box.x2 for c in read.chars) >= read.crop_box.w - 1
    if not (left or right):
        return None
    reach = int(round(config.segment.extend_reach * float(np.median([c.box.h for c in read.chars]))))
    box = read.crop_box
    x0 = max(0, box.x - reach) if left else box.x
    x1 = min(image.shape[1], box.x2 + reach) if right else box.x2
    if x1 - x0 <= box.w:
        return None
    wider = Box(x0, box.y, x1 - x0, box.h)
    return image[wider.y : wider.y2, wider.x : wider.x2], wider


def _plate_score(read: PlateRead) -> float:
    """How much a candidate looks like a read plate: confident characters, a plate-like count."""
    probs = [p.confidence for p in read.predictions if p.char != REJECT]
    if len(probs) < 2 or not read.candidates:
        return 0.0
    n = len(read.plate)
    length_fit = 1.0 if 5 <= n <= 8 else 0.6 if n in (4, 9) else 0.3
    template = 1.15 if read.matches_template else 1.0
    # Nearly every plate carries a digit (252 of 254 development photos); the text that competes
    # with it on a car (dealer names, model badges, "VEHICLE") rarely does.
    digit = 1.2 if any(ch.isdigit() for ch in read.plate) else 1.0
    return float(sum(probs)) * length_fit * template * digit


def _tight_box(seg, crop_box: Box) -> Box:
    """Plate box around the characters found, grown by half a character like a plate's border."""
    xs = [c.box.x for c in seg.chars] + [c.box.x2 for c in seg.chars]
    ys = [c.box.y for c in seg.chars] + [c.box.y2 for c in seg.chars]
    h = float(np.median([c.box.h for c in seg.chars]))
    x0 = max(0, int(min(xs) - 0.4 * h))
    y0 = max(0, int(min(ys) - 0.3 * h))
    x1 = min(crop_box.w, int(max(xs) + 0.4 * h))
    y1 = min(crop_box.h, int(max(ys) + 0.3 * h))
    return Box(crop_box.x + x0, crop_box.y + y0, x1 - x0, y1 - y0)


def _total(timings: dict[str, float], t0: float) -> dict[str, float]:
    timings = {k: round(v, 2) for k, v in timings.items()}
    timings["total"] = round((time.perf_counter() - t0) * 1000, 2)
    return timings


def _check_country(code: str) -> None:
    country(code)  # raises InputError naming the known countries
