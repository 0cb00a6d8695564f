"""Every tunable threshold of the pipeline, declared once with the reason for its default.

Tuned on the development split of OpenALPR's benchmark (see README); change one, then re-run
`python -m alpr eval` on real photos before trusting it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class LoadConfig:
    # Pillow's own bomb guard trips at ~89 Mpx; 50 Mpx still admits any phone/DSLR photo (48 Mpx sensors).
    max_pixels: int = 50_000_000
    # Uploads larger than this are refused before decoding (a 50 Mpx JPEG is ~25 MB).
    max_bytes: int = 50 * 1024 * 1024
    # Smaller than a single readable character: nothing to find.
    min_side: int = 8


@dataclass(frozen=True)
class DetectConfig:
    # Detection runs on a copy whose longer side is at most this: plates in the benchmark are 60-250 px
    # wide in 1280 px photos, so 1280 keeps every character >= 10 px tall while bounding the cost.
    max_side: int = 1280
    # ... and its area at most this: labelling costs per pixel, and plates are found on this copy
    # but read from the full-resolution photo. With the rank fitted at 1 Mpx, the 254 benchmark
    # photos read 196 / 196 / 201 / 202 / 195 / 200 at 0.4 / 0.5 / 0.6 / 0.7 / 0.8 / 1.0 Mpx; 0.7
    # with the rank refitted there read 204 in 123 ms median against 138 at 1 Mpx. A 1280x720
    # photo is shrunk by 0.87.
    max_pixels: int = 700_000
    # Small photos are upscaled so characters of a far plate are tall enough to be components.
    min_side: int = 640
    # The product rule: a plate is at most ~25% of the photo's width and ~15% of its height.
    max_plate_width_frac: float = 0.25
    max_plate_height_frac: float = 0.15
    # Plate-shaped blob: width/height of real plates is 2 (US two-line) to 5 (EU); allow slack for tilt.
    min_plate_aspect: float = 1.5
    max_plate_aspect: float = 6.5
    # Characters are at least this tall (px at detection scale): below it, strokes merge into blobs.
    min_char_height: int = 9
    # ... and at most this fraction of the photo's height (a plate is <= 15%, a character ~ 2/3 of it).
    max_char_height_frac: float = 0.12
    # Character blobs are taller than wide: 1 ("W", "M") up to ~6 ("1", "I").
    min_char_aspect: float = 0.95
    max_char_aspect: float = 7.0
    # Fraction of the character's box that is ink: a solid block is not a glyph, nor a thin frame.
    min_char_extent: float = 0.18
    max_char_extent: float = 0.92
    # Neighbours in a row: heights within this ratio, centres within this many heights vertically,
    # gaps of at most this many heights (plates put 0.1-0.8 h between characters; 1.6 spans a dash/space).
    row_height_ratio: float = 1.45
    row_center_tolerance: float = 0.35
    row_max_gap: float = 1.6
    # Row pieces this many heights apart still join into one plate (the gap around a state emblem
    # or a separator dot in the middle of US plates is ~1.5-2.5 character heights).
    row_join_gap: float = 2.6
    # A row needs this many characters to be a plate (the shortest plates hold 2-3, but 3 is also
    # where random texture starts to look like text; bottom-up rows need 3, top-down blobs fewer).
    min_row_chars: int = 3
    # Window size of the local threshold, in multiples of the expected character height.
    local_block: int = 35
    # Plate-shaped blobs examined per binarization, largest first (each costs ~0.1 ms).
    max_blobs: int = 300
    # Candidates kept for reading (read.first_candidates of them first): more finds more plates,
    # each read costs ~5-15 ms.
    max_candidates: int = 12
    # Candidates overlapping more than this are the same plate.
    nms_iou: float = 0.3
    # A photo where no plate was read, or only one without a digit (a close-up's state name: its
    # number broke the size rules above), is searched once more as a close-up
    # (pipeline._second_looks): shrunk this many times further, so glyphs 100+ px tall fit the
    # thresholds' window again, with a plate up to closeup_plate_frac of the photo's width and height
    # and its glyphs up to closeup_char_frac of its height. Both passes' reads then compete. 1 more
    # of the 254 benchmark photos read (JGZ3298, 63% of its photo's width), none lost; 0 turns it off.
    closeup_shrink: float = 3.0
    closeup_plate_frac: float = 0.9
    closeup_char_frac: float = 0.4
    # ... and where that read no plate either, once more at this many times the usual detection
    # scale: a far plate's 10 px glyphs touch each other and its frame, twice as large they part.
    # 2 more of the 254 benchmark photos read (test_041, DK2Z5S), none lost (1.5: 2 more, a
    # digit-free vanity plate lost); only on photos with no plate, whose p90 time it doubles. 0
    # turns it off.
    far_zoom: float = 2.0


@dataclass(frozen=True)
class RankConfig:
    """Plate candidates are ranked (the best `detect.max_candidates` kept, the best
    `read.first_candidates` read first) by the log-odds that each holds the plate: a logistic
    model of what detection already measures, fitted on the 2,120 distinct candidates of the 207
    benchmark photos outside the hold-out by `python -m alpr.training.rank_fit`, which prints these
    weights. Where in the photo a candidate is, is left out on purpose: the benchmark's cars are
    centred, a street's are not."""

    # Per character-like component inside, up to 8: the evidence the old hand-set rank used alone.
    chars: float = 0.943
    # Per component beyond 9: a line of text on the car, not a plate.
    chars_over_9: float = -1.753
    # Found as one plate-shaped blob (its background) rather than only as a row of glyphs.
    plate_shaped: float = 2.547
    # By the binarization it was found in: dark glyphs on a light plate are the common case in all
    # three regions, and Otsu's global threshold finds the plate as a whole more often.
    local_dark: float = 0.501
    # (light ink on dark: a plate's background as ink, or text on a dark car)
    local_light: float = -0.425
    # (see local_dark)
    otsu_dark: float = 0.576
    # (see local_light)
    otsu_light: float = -0.692
    # Per unit of log(width / height) of the box.
    log_aspect: float = 0.012
    # Per unit of log(box height / photo height): a plate is among the larger text on a photo.
    log_height: float = 1.616
    # The log-odds of a candidate with none of the above.
    bias: float = -3.19

    @classmethod
    def from_dict(cls, fitted) -> "RankConfig | None":
        """The rank a model version carries in its metadata (refitted by a training run,
        alpr/training/rank_step.py); None when there is none or it lacks a weight."""
        if not isinstance(fitted, dict):
            return None
        try:
            return cls(**{f.name: float(fitted[f.name]) for f in fields(cls)})
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class SegmentConfig:
    # Plate crops are resized to this height before segmenting, so the size rules below are in pixels.
    plate_height: int = 100
    # Margin added around a detected plate box, as a fraction of its height, so edge characters survive.
    margin: float = 0.25
    # Local threshold window (px at plate_height) and how much darker than the local mean ink must be:
    # a window about half a character tall with a 0.08 offset gave the most exact character counts
    # on the development crops (352/519, against 306 for a 0.02 offset), mostly by not melting
    # glyphs into plate artwork.
    local_block: int = 31
    local_offset: float = 0.08
    # Characters of a one-line plate are 35-90% of the plate's height, but the crop adds a margin
    # (above) and often a dealer frame, so small plates' glyphs fill only 22-28% of it; state names
    # and slogans are ~15-20%. 0.28 pushed those glyphs into _merge_broken, which stacked them onto
    # the state name: 0.22 read 12 more US, 10 more Brazilian and 2 more EU development photos, and
    # the same plate crops (0.19 read no more and lost a crop).
    min_char_height_frac: float = 0.22
    max_char_height_frac: float = 0.95
    # "W", "M" and "X" in European fonts are ~0.65 as tall as wide; a box of two touching glyphs
    # (~0.5 or less) is dropped, not split: splitting it won no development read (docs/accuracy.md).
    min_char_aspect: float = 0.6
    max_char_aspect: float = 8.0
    # A thin ring or a frame's corner fills under 15% of its box; the thinnest glyph strokes ("1" in a
    # wide box, a blurred "7") fill more.
    min_char_extent: float = 0.15
    # Glyph strokes fill 30-75% of their box; a fuller blob is a block (the blue EU band, a sticker,
    # or in the inverted views the plate between the glyphs) unless it is a tall solid bar ("I",
    # "1"), which the segmenter lets through by its shape.
    max_char_extent: float = 0.85
    # Row membership: heights within this ratio of the row's median, centres within this fraction.
    row_height_ratio: float = 1.4
    row_center_tolerance: float = 0.3
    # Segmentations (one per binarization, best-looking first) whose crops the classifier reads;
    # the most confident read wins. For a detected candidate 2, since the split views below (2
    # more) read 216 of the 254 benchmark photos at 2 as at 3, in 119 ms median in US against
    # 126; for a given plate crop 3 of 4 (the 519 crops: 472 at 3, 470 at 2).
    views_to_read: int = 2
    crop_views_to_read: int = 3
    # A box at least this many times as wide as the row is tall is cut in two in a further view
    # (segment._split_wide), read like the others but chosen only when every character reads at
    # split_min_confidence or more and the plate is no longer than its country's: two blurred
    # glyphs grown together (CG2H2U, AG4V3U, 6MMD595). Photos 214 -> 216 of 254 with 2 views and
    # 214 with 3 without them; crops 472 = 472 (0.8 confidence: photos 214, a W read "VV"). Wider
    # than 0.85 / 1.05 of the height: photos 216 / 213, crops 471 / 472.
    split_wide: float = 0.95
    split_min_confidence: float = 0.9
    # A thin bar at a row's end whose top or bottom is off the row's by more than this fraction of
    # the glyph height is the plate's frame, not a "1": glyphs of one font align within ~5%.
    end_bar_tolerance: float = 0.08
    # Re-crop a candidate around its characters when they are shorter than this fraction of it
    # (a plate found with its holder or bumper recess); tight crops have glyphs at ~55-65%.
    refine_below: float = 0.45
    # Two side-by-side pieces narrower than this fraction of the row's glyph width, at most
    # piece_max_gap glyph heights apart, whose union is at most joined_max_width glyph widths, are
    # one glyph cut at its thinnest stroke (segment._join_split_glyphs): 2 more of the 254 development
    # photos read, the 519 crops unchanged.
    piece_max_width: float = 0.6
    piece_max_gap: float = 0.1
    joined_max_width: float = 1.25
    # The best extend_best reads whose row's first or last glyph touches the crop's edge are read
    # again from a crop extend_reach glyph heights wider on that side (pipeline._extend): the plate
    # goes on past the edge. 2 more Brazilian and 1 more European benchmark photo read.
    extend_reach: float = 3.0
    extend_best: int = 2
    # A component found inside the row's band must span this much of it to count as a glyph.
    band_min_height: float = 0.85
    # A band component wider than a glyph, at the row's spacing from a glyph, is cut where its
    # columns hold least ink when that bridge is at most this fraction of the band tall
    # (segment._cut_from_artwork): a glyph joined to the state's artwork. The 519 crops read 466
    # without it, 470 / 472 / 471 at 0.25 / 0.3 / 0.35 (0.35 cut a Q free of its own tail), the
    # photos 212 at each. 0 turns it off.
    cut_max_link: float = 0.3
    # Vertical strokes whose tops and bottoms agree within this fraction of the crop's height vote
    # for the same glyph band (_stroke_band): glyphs of one font align within 2-3 px at 100 px.
    band_tolerance: float = 0.03
    # ... and only strokes up to this fraction of it vote: glyphs fill 25-65% of a plate crop with its
    # margin, the plate's frame and background 70-100%.
    band_max_height: float = 0.7
    # The band views are read only when no binarization found at least this many glyphs: cut to a
    # band, a frame's sides look like "1"s, so on a plate the usual views read they cost more reads
    # than they save. Below 6 read 84 of the 124 benchmark US photos (77 without band views; with
    # an earlier vote 80 below 5 and 72 below 7, where six-glyph plates gained a frame's side,
    # against 82 below 6).
    band_views_below: int = 6
    # ... and not when the view that found most found a clean row (4 or 5 glyphs of one height)
    # this many times taller than the band's glyphs: the band then runs through them (the loops of
    # an 8, the arms of a V: the app's Texas sample read "QIIO0Q" for 8VQ09).
    band_cuts_glyphs: float = 1.25
    # A crop with at least this share of pixels clearly of an artwork colour (red over green and
    # blue, or green over red, by more than artwork_excess, of 0..1) in the columns under its row
    # is also read in the channel where that colour is light, dark ink only ("+red", "+green"
    # views; alpr/colour.py), unless its glyphs' darkest 30% stand out as that colour by more than
    # artwork_glyph_excess (glyphs of that colour fade there). Artwork joined to a glyph disappears: Nebraska's red
    # outline (0JT898 read JT898), Oregon's green tree (YDR431 read YDR3). On the 519 development
    # crops 472 -> 485 with red (Nebraska 5, Idaho 5, Utah, Minnesota, North Carolina; none lost),
    # 488 with green too (Oregon 2, Texas); hold-out 86 -> 88. Without the glyph test 482 (UNI
    # read U1NI, 152JK8 read 152J1K8); the share measured over the row's own height only lost
    # Nebraska (479); green counted only where green is at least blue (no sky) lost Texas (487)
    # for 1 ms less per crop; a blue view changed nothing. Photos: the 254 read as without them;
    # measured over the whole crop instead of under the row, a tail light cost one (AC0M7V). 0
    # turns them off.
    artwork_view_share: float = 0.02
    artwork_excess: float = 0.25
    artwork_glyph_excess: float = 0.1


@dataclass(frozen=True)
class ClassifyConfig:
    # Crops are scaled into a square of this side (aspect kept, centred): 32 px keeps strokes of
    # plate fonts distinct while keeping the model a few hundred kB and fast on a CPU.
    input_size: int = 32
    # Probabilities below this are left out of the top-k lists.
    min_topk_prob: float = 0.005
    # An ONNX or TFLite export whose probabilities differ from Keras' by more than this is refused:
    # float32 graphs agree to ~1e-7, so 1e-4 catches a wrong graph and never rounding.
    export_tolerance: float = 1e-4


@dataclass(frozen=True)
class AssembleConfig:
    # Characters whose best class is "not a character" with at least this probability are dropped.
    reject_prob: float = 0.6
    # Alternatives per character considered when building plate strings.
    per_char_k: int = 4
    # Candidates under this confidence (0..100) are not reported.
    min_candidate_confidence: float = 1.0
    # Weight of the per-position statistics of the plates a person confirmed (alpr/priors.py,
    # saved with a fine-tuned version), 0 for off. Off by default: on the learning loop's 67
    # corrected plates (scripts/learning_loop.py, docs/training.md) 0.5 read 64 of them and 117 of
    # the 142 hold-out photos, off 67 and 120; 0.25 and 0.5 cost a hold-out photo in the first round
    # too. At 0.5 (as for the US layouts) a look-alike (O/0, I/1) goes the way the statistics say.
    learned_prior_weight: float = 0.0


@dataclass(frozen=True)
class ReadConfig:
    # Plates reported per photo: parking-lot photos hold a few; more is almost always texture.
    max_plates: int = 3
    # Candidates read first, best ranked (config.rank) first; the others of the detect.max_candidates
    # kept are read only when none of these holds a plate to report. With the fitted rank the
    # plate is among the first 6 candidates of 242 of the 254 benchmark photos (246 within 12).
    # Reading 6 first took the US median from ~197 to ~141 ms (BR ~187 -> ~155) and read 200 of the
    # photos, against 199 reading all 12 at once; later, 5 read the same 207 as 6 (4: 206) with
    # medians BR 101, EU 63, US 109 ms against 111, 68, 127.
    first_candidates: int = 5
    # The best-ranked candidate is read alone first. When it reads as a plate that fits the
    # country's formats at sure_confidence (0..100) or more, the other first candidates are read
    # only when the rank gives them at least sure_others_likelihood: a second car's plate usually
    # ranks well (PJO5897 beside NZM5430: 0.33), junk does not. At 85, 70 and 60 all 254 benchmark
    # photos read as when every first candidate was read; at 70, 5 fewer extra plates (4 junk, one a
    # real car's: WH3T6N, ranked 0.01) and medians BR 131 -> 81, EU 88 -> 50, US 152 -> 107 ms (85:
    # US 120; 60: US 99) in one sitting on 2026-12-03. Without the likelihood test (no other read):
    # PJO5897 lost. 0 turns it off: every first candidate read at once (photos of many cars).
    sure_confidence: float = 70.0
    sure_others_likelihood: float = 0.3
    # When the best-ranked candidate is not a sure plate (a dashcam's timestamp outranks the plate
    # in many of the US photos), the next ones are read alone too, up to this many candidates in
    # all, each time asking whether a sure plate has been read; then the rest of the first ones
    # together (one classifier batch). 2 against 1: the 254 benchmark photos read the same, US
    # median 102 -> 94 ms in one sitting (2026-12-03); BR and EU, whose plate ranks first, as fast.
    sure_solo: int = 2
    # The best read is reported only with at least this many characters and this confidence
    # (0..100): below it a photo with no plate would show a "plate" read from a grille or a sign.
    min_chars: int = 3
    # The best read needs at least this confidence (0..100) too, for min_chars' reason: a grille or
    # a sign reads as a weak plate.
    min_confidence: float = 40.0
    # Further plates must look as convincing as a real second plate does: a full-length string
    # read with high confidence, and at least this fraction of the best plate's score.
    extra_min_chars: int = 4
    extra_min_confidence: float = 70.0
    extra_min_score_ratio: float = 0.5
    # A thin mark first or last in a row is a plate frame's edge, a bolt or a sticker's border, not
    # a character, when it was read as one of these narrow classes, is narrower than the row's
    # median character, and stands out: its height off the row's median by more than
    # stray_end_height_tolerance, or its gap to its neighbour wider than the row's median gap by
    # more than stray_end_gap character heights. On the development photos this caught 6 of 14
    # such marks and none of 1,146 genuine end characters (German "M AB 123" and the like are wide).
    stray_end_chars: str = "1IJL"
    stray_end_height_tolerance: float = 0.2
    stray_end_gap: float = 0.45
    # ... in rows of at least this many characters, so the median describes the plate.
    # (A row longer than its country's plates, `Country.max_length`, loses such an end mark
    # whatever its size: US development photos 84 -> 86 read, crops unchanged.)
    stray_end_min_row: int = 5
    # Any end mark read at under this confidence is judged by the spacing rule too (not by height:
    # a doubtful glyph melted into a bolt is taller and still a glyph): a sticker or a bolt set
    # apart from the row reads as a doubtful "5" or "3" as often as a "1". 1 more of the 254
    # benchmark photos read (6HP995), the crops unchanged.
    stray_end_doubt: float = 0.7


@dataclass(frozen=True)
class VerifyConfig:
    # Plate or not, from a read's characters and place (alpr/verify.py). On the development
    # photos these rules dropped 49 of 74 reads away from the labeled plate, and 2 (wrong) reads
    # at it; the hold-out numbers are in docs/accuracy.md. False turns every rule off.
    enabled: bool = True
    # A dashcam's date/time overlay: in the photo's top or bottom 3% (the 33 timestamps there sat
    # within 1%; one real plate of 190 came within 3%) and at least half digits.
    overlay_band: float = 0.03
    overlay_digit_share: float = 0.5
    # A grille, bars or bolts read as a row of narrow glyphs: 60% or more of them (12 junk reads,
    # 1 wrong read at a plate); real plates mix widths.
    narrow_chars: str = "I1JLT"
    narrow_share: float = 0.6
    # No plate of the benchmark regions has more characters (US vanity plates stop at 8).
    max_chars: int = 8
    # A second or third plate in a photo must carry a digit (words on the car rarely do).
    extra_needs_digit: bool = True


@dataclass(frozen=True)
class MemoryConfig:
    # Plates a person labeled, recognised when seen again, and never another plate (alpr/memory.py).
    # The signature is the grey pixels of the box around a plate's glyphs at this size (rows,
    # columns): coarse enough that the same plate in another photo still matches, fine enough that
    # each glyph counts. Blurred by this sigma (signature pixels) for the same reason.
    signature_shape: tuple[int, int] = (24, 96)
    signature_blur: float = 1.0
    # The compared box is the glyphs' box grown by this share of their height on every side.
    lettering_margin: float = 0.15
    # The glyphs are found a pixel or two differently from one read to the next: the box is also
    # tried moved and scaled by this fraction of its size each way (27 views).
    jitter: float = 0.04
    # Normalised cross-correlation a read's lettering needs with a remembered plate's as a whole.
    # Plates of one design reach 0.99 with one glyph different, so this alone proves nothing.
    min_similarity: float = 0.8
    # ... and at every remembered glyph's window (the glyph where two plates differ most). Taught
    # rendered plates seen again shifted, rescaled and re-exposed stayed above it (200 of 200; 196
    # at 0.75); another plate of the design passes it only when its glyphs are look-alikes, which
    # the classifier's rule below then decides (tests/unit/test_memory.py).
    min_glyph_similarity: float = 0.7
    # ... and at most this many edits between the read and the remembered text: a plate cut into a
    # segment too few or too many, or two look-alikes, still matches; another plate does not.
    max_edits: int = 3
    # ... and no character read may rule the remembered text out: one read at this confidence or
    # more must be the text's character there (or its look-alike), since a sure "1" where a person
    # typed "8" is another plate; an unsure one must give the text's character at least
    # `min_char_probability`. Pixels alone cannot tell a 3 from an 8 on a blurred plate of the
    # same design (both correlate at 0.86); the classifier can.
    sure_char: float = 0.9
    min_char_probability: float = 0.02
    # Pairs a plate's font draws alike: a sure read of one may stand for the other.
    look_alikes: tuple[str, ...] = ("O0", "D0", "Q0", "I1", "B8", "S5", "Z2", "G6")
    # The very same plate image read again (the photo re-read: 1.0 as a whole and at every glyph):
    # its text is recalled however far the read went (a plate cut into the wrong pieces).
    same_plate_similarity: float = 0.97
    same_plate_glyph_similarity: float = 0.95
    # Lettering of about the same shape only (log of the width/height ratio): a two-line plate does
    # not recall a one-line one however the pixels correlate once squeezed to the same size.
    max_aspect_log_ratio: float = 0.3


@dataclass(frozen=True)
class TieConfig:
    # Two scores this close (a fraction of the larger, absolute below 1) are a tie, and a value this
    # close to a threshold counts as at it; ties then go by a stated rule, not by a float's last bits
    # (alpr/ties.py): a read that fits the country's formats, then one of its plate lengths, then
    # fewer segments. Probabilities differ by ~1e-7 between CPUs (AVX2 against AVX-512); moved by
    # 1e-6 (tests/unit/test_ties.py) the constant test model's scores move by under 1e-5 of their
    # size. On the 773 benchmark files 1e-5 changed one read (a crop read as nothing reads "C" at
    # 6%) and 49 plate boxes (a tied segmentation of the same text: docs/accuracy.md#ties); 1e-4
    # 104 boxes and 4 candidate lists.
    tolerance: float = 1e-5


@dataclass(frozen=True)
class WatchlistConfig:
    # Characters a reader confuses on plates, a group per string (their glyphs differ by a corner
    # or a stroke, and people type them either way): a read that differs from a listed plate only
    # by these still matches it, at no cost.
    lookalikes: tuple[str, ...] = ("O0", "I1", "B8", "S5", "Z2")
    # Further edits (a character changed, missed or extra) a read may differ by and still match:
    # one forgives a segment too few or too many; two would match other cars' plates.
    max_edits: int = 1
    # Plates shorter than this match only up to look-alikes: one edit on a four-character plate
    # is a quarter of it, and matches a crowd of other plates.
    min_chars_for_edit: int = 5


@dataclass(frozen=True)
class WebhookConfig:
    # Seconds a delivery may spend on each of connecting, sending and waiting for the answer: a
    # receiver on the LAN answers in milliseconds, a cloud one in well under a second; one that
    # hangs is cut off here and retried later, never holding up a read.
    timeout_s: float = 10.0
    # The first retry comes this many seconds after a failure, and the delay doubles with each
    # further failure: a receiver being restarted is back within a few seconds.
    base_delay_s: float = 1.0
    # The delay stops doubling here: a receiver down for hours is still probed once a minute, so
    # its deliveries leave within a minute of its return.
    max_delay_s: float = 60.0
    # Each delay is shortened by a random part of up to this fraction, so readers that failed at
    # the same moment do not all retry at the same moment.
    jitter: float = 0.5
    # Seed of that randomness: None takes it from the OS; a number makes the retry times repeatable (tests).
    jitter_seed: int | None = None
    # A delivery still failing this many seconds after its read is given up (counted, logged): a
    # week covers a receiver down over a long weekend or a holiday.
    max_age_s: float = 7 * 24 * 3600.0
    # Deliveries waiting at most; one more gives up the oldest waiting one (counted, logged), so
    # a receiver gone for good cannot fill the disk. 10,000 is a few days of a busy gate.
    max_queued: int = 10_000
    # Bytes of waiting request bodies at most (photos included), for the same reason: ~2,500
    # deliveries with a 1920 px JPEG each.
    max_queued_bytes: int = 512 * 1024 * 1024
    # Photos sent with a delivery are JPEG, shrunk to this longer side: what a plate-history
    # viewer shows, at ~200 KB instead of a 50 MB original.
    max_image_side: int = 1920
    # JPEG quality of those photos: plates stay legible to a person, the size stays small.
    jpeg_quality: int = 85
    # Seconds one process's claim to send to a receiver lasts unless renewed (one sender per
    # receiver even with several server workers; a killed holder on this machine is replaced at
    # once). It must outlast a delivery that times out in each of its three phases: at least
    # four times timeout_s.
    lease_s: float = 60.0
    # Seconds an idle sender sleeps before looking for deliveries another process queued: their
    # webhooks leave within about this (this process's own wake it at once).
    poll_s: float = 0.5
    # Sent and given-up deliveries stay this many seconds (their bodies dropped at once) so their
    # ids can be looked up, then are deleted.
    keep_done_s: float = 24 * 3600.0
    # Seconds `batch` and `recognize` wait at the end for their deliveries to leave; what is still
    # waiting is said and left in the outbox for the next run (or the server) to send.
    drain_s: float = 30.0

    def __post_init__(self):
        if self.lease_s < 4 * self.timeout_s:
            raise ValueError(f"WebhookConfig.lease_s ({self.lease_s}) must be at least four times timeout_s")


@dataclass(frozen=True)
class Config:
    load: LoadConfig = LoadConfig()
    detect: DetectConfig = DetectConfig()
    rank: RankConfig = RankConfig()
    segment: SegmentConfig = SegmentConfig()
    classify: ClassifyConfig = ClassifyConfig()
    assemble: AssembleConfig = AssembleConfig()
    read: ReadConfig = ReadConfig()
    verify: VerifyConfig = VerifyConfig()
    memory: MemoryConfig = MemoryConfig()
    ties: TieConfig = TieConfig()
    watchlist: WatchlistConfig = WatchlistConfig()
    webhook: WebhookConfig = WebhookConfig()


DEFAULT = Config()


def describe(config: Config = DEFAULT) -> list[tuple[str, object, str]]:
    """(dotted name, value, why) for every setting: the comment above a field is its help text.

    Used by `python -m alpr settings`, the app and the README test, so a setting is declared once.
    """
    rows = []
    for section in fields(config):
        part = getattr(config, section.name)
        notes = _field_comments(type(part))
        for f in fields(part):
            rows.append((f"{section.name}.{f.name}", getattr(part, f.name), notes.get(f.name, "")))
    return rows


def _field_comments(cls) -> dict[str, str]:
    notes: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        text = line.strip()
        if text.startswith("#"):
            pending.append(text.lstrip("# ").strip())
            continue
        if ":" in text and not text.startswith(("class", "@", '"')) and pending:
            notes[text.split(":", 1)[0].strip()] = " ".join(pending)
        pending = []
    # A field without its own comment shares the one above it only when it is that field's other
    # half: min_x after max_x (or the reverse), or a name of the same family (row_height_ratio,
    # row_center_tolerance). Any other uncommented field says nothing rather than its neighbour's reason.
    previous = None
    for f in fields(cls):
        if f.name not in notes and previous is not None and _same_family(previous, f.name):
            notes[f.name] = notes.get(previous, "")
        previous = f.name
    return notes


def _same_family(a: str, b: str) -> bool:
    """max_x / min_x, or two names with the same min_/max_ prefix (or none) and the same first word after it."""

    def split(name: str) -> tuple[str, str]:
        for prefix in ("min_", "max_"):
            if name.startswith(prefix):
                return prefix, name[len(prefix) :]
        return "", name

    (pa, ra), (pb, rb) = split(a), split(b)
    if pa and pb and pa != pb:
        return ra == rb
    return pa == pb and ra.split("_", 1)[0] == rb.split("_", 1)[0]
