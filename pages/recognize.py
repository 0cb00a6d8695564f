"""Recognize: read the plates in photos, and show every decision taken on the way to the answer."""
import logging
from pathlib import Path
from statistics import median

import pandas as pd
import streamlit as st

from alpr import figures
from alpr import app as appstate
from alpr.api.links import api_docs_markdown
from alpr.assemble import COUNTRIES
from alpr.batch import view as batch_view
from alpr.errors import ImageLoadError
from alpr.readview import DEFAULT_VIEW, best_first, corrections, final_chars, outlined_photo, verdict

appstate.require_router("recognize")

log = logging.getLogger("alpr.app")

# Plotly's toolbar without its logo and the selection tools (nothing here reacts to a selection);
# zoom, pan and the camera button (save as PNG) stay for looking closely at a photo.
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
STATIC_PLOT = {"displayModeBar": False}

st.title("Recognize")
st.caption("Find and read the license plates in a photo: each plate is outlined with its text, its characters and "
           "how sure the reader is. **Show how it decided** unfolds what the detector looked at.")

st.caption(api_docs_markdown())
classifier = appstate.get_classifier()

# --- inputs: photos on the left, the few reading settings on the right --------------------------
# Folded once a photo is chosen, so the read opens above the fold; the key changes with that, so
# the panel is drawn anew (open or closed) exactly then. The widgets keep their own keys and values.
chosen = bool(st.session_state.get("recognize_upload")) or st.session_state.get("recognize_sample") is not None \
    or bool(st.session_state.get("recognize_camera_on"))
inputs = st.expander("Photos and settings", expanded=not chosen, icon=":material/add_photo_alternate:",
                     key=f"recognize_inputs_{int(chosen)}")
photos_col, settings_col = inputs.columns([3, 1], gap="large")

with settings_col:
    codes = list(COUNTRIES)
    country = st.selectbox(
        "Plate country", codes, index=codes.index("us"), key="recognize_country",
        format_func=lambda code: f"{COUNTRIES[code].name} ({code})",
        help="Plate formats of this country rank the candidate strings.",
    )
    topn = st.slider(
        "Candidates per plate", min_value=1, max_value=30, value=10, key="recognize_topn",
        help="How many alternative readings to list for each plate (OpenALPR's top-N).",
    )

with photos_col:
    uploads = st.file_uploader(
        "Photos", type=list(appstate.IMAGE_TYPES), accept_multiple_files=True, key="recognize_upload",
        help="Each photo is read separately; up to 50 MB per file.",
    )
    samples = appstate.sample_choices()
    sample = st.selectbox(
        "Or try a sample photo", list(samples), index=None, key="recognize_sample",
        placeholder="Choose a sample photo…",
        help="Synthetic street scenes drawn by alpr.synth"
        + (f", and the images in the folder named by `{appstate.SAMPLES_DIR_ENV}`." if appstate.folder_samples() else "."),
    )
    with st.expander("Take a photo with the camera", icon=":material/photo_camera:"):
        # The browser asks for camera access only once the user opts in, not on every page load.
        camera_on = st.toggle("Use the camera", key="recognize_camera_on")
        shot = st.camera_input("Camera", key="recognize_camera", label_visibility="collapsed") if camera_on else None

photos = [appstate.Photo(f.name, f.getvalue()) for f in uploads or []]
if shot is not None:
    photos.append(appstate.Photo("camera photo.jpg", shot.getvalue()))
if sample is not None:
    try:
        photos.append(appstate.as_photo(samples[sample]))
    except OSError as exc:  # a file of the samples folder removed or unreadable since it was listed
        st.error(f"Could not open the sample {sample}: {exc}", icon=":material/error:")

# A deep link from the Batch page: ?photo=PATH, read only when inside the data roots.
if (linked := batch_view.linked_photo(st.query_params.get(batch_view.PHOTO_PARAM), appstate.data_roots())):
    photos.append(appstate.Photo(linked.name, linked.read_bytes()))
if not photos:
    st.info("Upload a photo, take one with the camera, or pick a sample photo to start.", icon=":material/info:")
    st.stop()


# --- one section per photo ---------------------------------------------------------------------

def plate_card(plate, country_code: str, index: int, many: bool, plate_ids: list[int], key: str) -> None:
    """The read of one plate, as a presenter says it: the text, whether to trust it, what the
    format changed, and the way to fix it."""
    said = verdict(plate, country_code)
    with st.container(border=True, gap="small"):
        colour = {"certain": "green", "uncertain": "orange"}.get(said.state, "gray")
        st.metric(
            f"Plate {index + 1}" if many else "Plate", plate.plate or "?", border=False,
            delta=("matches a template" if said.state == "certain" else said.state) + f" · {plate.confidence:.1f}",
            delta_color=colour, delta_arrow="off", help=said.why[0].upper() + said.why[1:],
        )
        if said.state != "certain":
            st.caption(f":orange[Uncertain:] {said.why}.")
        fixed = corrections(plate, country_code)
        if fixed:
            st.caption(f"Corrected by the plate format: {fixed}.")
        st.plotly_chart(figures.plate_figure(plate, final_chars(plate), shown_width=340), key=f"{key}_crop", config=STATIC_PLOT)
        if index < len(plate_ids):
            st.page_link("pages/relabel.py", label="Fix this read", icon=":material/edit_note:",
                         query_params={"plate": plate_ids[index]},
                         help="Correct the characters on the Relabel page; the fixes become training data.")


def show_plate_details(plate, key: str) -> None:
    """One plate's evidence: what the classifier saw per crop, and every candidate reading."""
    st.markdown("**What the classifier saw** · each character crop and its most likely classes (∅: not a character)")
    st.plotly_chart(figures.topk_figure(plate), key=f"{key}_topk", config=STATIC_PLOT)


def candidates_table(plate, key: str) -> None:
    ranked = sorted(plate.candidates, key=lambda c: -c.confidence)
    table = pd.DataFrame(
        {
            "Plate": [c.plate for c in ranked],
            "Confidence": [c.confidence for c in ranked],
            "Matches template": [c.matches_template for c in ranked],
        },
        index=pd.RangeIndex(1, len(ranked) + 1, name="#"),
    )
    st.dataframe(
        table, key=f"{key}_candidates", height=min(36 + 35 * len(table), 300),
        column_config={
            "Plate": st.column_config.TextColumn(width=110),
            "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f", width=150),
            "Matches template": st.column_config.CheckboxColumn(
                "Template", help="Fits one of the country's plate formats", width=80),
        },
    )


def show_result(photo: appstate.Photo, rec, key: str) -> None:
    """The read first (plates outlined on the photo, their text, crops and top-k), then, folded,
    how the detector decided."""
    if not rec.plates:
        st.info(
            f"No plate found in {photo.name}. Open **Show how it decided** below to see every region the detector "
            "looked at and why each was rejected.",
            icon=":material/search_off:",
        )
    order = best_first(rec.plates)
    plate_ids = appstate.stored_plates(photo)
    photo_col, read_col = st.columns([3, 2], gap="medium")
    with photo_col:
        # A picture, not a chart: it scales with the column (no blank band on a phone) and has no
        # tooltips to cover the plate in front of an audience.
        st.image(outlined_photo(rec), width="stretch",
                 caption="Green: a read to trust · orange: uncertain, check it")
    with read_col:
        for index, plate in order:
            plate_card(plate, rec.country, index, len(rec.plates) > 1, plate_ids, f"{key}_plate{index}")
        footer = st.container(horizontal=True, vertical_alignment="center", gap="small")
        footer.download_button(
            "OpenALPR JSON", appstate.openalpr_json(rec, photo.name),
            file_name=f"{Path(photo.name).stem}.json", mime="application/json", on_click="ignore",
            icon=":material/download:", key=f"{key}_json", help="The read in OpenALPR's JSON format",
        )
        if photo.expected:
            footer.caption(f"This sample was drawn with the plate **{photo.expected}**.")

    for index, plate in order:
        show_plate_details(plate, f"{key}_plate{index}")

    with st.expander("Show how it decided", icon=":material/manage_search:"):
        st.caption("The detector looks at connected blobs of ink (components) and regions that might hold a plate "
                   "(candidates); hover over a box to see why it was kept or rejected.")
        toggles = st.container(horizontal=True, gap="medium")
        components = toggles.toggle("Components", value=True, key=f"{key}_components",
                                    help="Connected components: green kept as character- or plate-like, red rejected.")
        candidates = toggles.toggle("Plate candidates", value=True, key=f"{key}_candidates_on",
                                    help="Regions that might hold a plate: blue kept, orange rejected.")
        numbers = toggles.toggle("Component labels", value=False, key=f"{key}_labels",
                                 disabled=not components, help="Write each component's label number on it.")
        st.plotly_chart(figures.photo_figure(rec, components, candidates, numbers), key=f"{key}_photo_decided",
                        config=PLOT_CONFIG)
        for index, plate in order:
            st.markdown(f"**Candidate readings of plate {index + 1}** · found on the "
                        f"{plain_binarization(plate.binarization)}")
            candidates_table(plate, f"{key}_plate{index}")
        timings_col, regions_col = st.columns([2, 3], gap="large")
        with timings_col:
            st.plotly_chart(figures.timings_figure(rec), key=f"{key}_timings", config=STATIC_PLOT)
        with regions_col:
            st.markdown(f"**Detection regions** ({len(rec.plate_candidates)})")
            st.dataframe(
                pd.DataFrame(
                    {
                        "Kept": [c.kept for c in rec.plate_candidates],
                        "Reason": [c.reason for c in rec.plate_candidates],
                        "Found as": [c.source for c in rec.plate_candidates],
                        "Ink": [plain_binarization(c.binarization) for c in rec.plate_candidates],
                        "Characters": [c.char_count for c in rec.plate_candidates],
                        "Score": [round(c.score, 2) for c in rec.plate_candidates],
                        "Box (x, y, w, h)": [f"{c.box.x}, {c.box.y}, {c.box.w}, {c.box.h}" for c in rec.plate_candidates],
                    }
                ),
                hide_index=True, key=f"{key}_regions", height=260,
            )


def plain_binarization(name: str) -> str:
    """"otsu/dark" in words: how the photo was turned black and white, and which ink was read."""
    method, _, ink = (name or "").partition("/")
    how = {"otsu": "whole-photo threshold", "local": "local threshold", "adaptive": "local threshold"}.get(
        method, method or "threshold")
    colour = {"dark": "dark characters on a light plate", "light": "light characters on a dark plate"}.get(ink, ink)
    return f"{colour} ({how})" if colour else how


def show_photo(photo: appstate.Photo, index: int) -> None:
    """Read and draw one photo. Whatever goes wrong stays inside this photo's section."""
    st.subheader(photo.name, divider="gray")
    key = f"recognize_{index}"
    try:
        with st.spinner(f"Reading {photo.name}…"):
            rec = appstate.read_photo(photo, country, topn, classifier)
            appstate.keep_read(photo, rec, classifier)
        show_result(photo, rec, key)
    except ImageLoadError as exc:
        st.error(str(exc), icon=":material/broken_image:")
    except Exception as exc:  # noqa: BLE001 - one bad photo must not take the others down
        log.exception("reading %s failed", photo.name)
        st.error(f"Could not read {photo.name}: {exc}", icon=":material/error:")


# --- many photos: one row each, any one opened in full ------------------------------------------

def show_batch(photos: list[appstate.Photo]) -> None:
    """A progress bar while the photos are read, then what each one read, and a picker to open
    any of them in the full view. Only the rows are kept, so a batch of hundreds stays small."""
    st.subheader(f"{len(photos)} photos", divider="gray")
    status = st.empty()

    def show_progress(done: int, total: int, name: str) -> None:
        status.progress(done / total, text=f"Reading photo {done + 1} of {total} · {name}…")

    rows = appstate.read_batch(photos, country, topn, classifier, show_progress, keep=True)
    status.empty()

    read = [r for r in rows if r.error is None]
    cards = st.container(horizontal=True, gap="small")
    cards.metric("Photos read", f"{len(read)} of {len(rows)}", border=True, width=210)
    cards.metric("Plates found", sum(r.plates for r in rows), border=True, width=210)
    if read:
        cards.metric("Median time per photo", f"{median(r.ms for r in read):.0f} ms", border=True, width=210)
    if len(read) < len(rows):
        cards.metric("Unusable files", len(rows) - len(read), border=True, width=210)

    # One row per plate, best first within its photo; a photo without a plate (or unusable) keeps one row.
    lines = []
    for n, r in enumerate(rows, start=1):
        readings = sorted(r.readings, key=lambda t: -t[1]) or [("", None, None)]
        for k, (text, conf, template) in enumerate(readings, start=1):
            uncertain = conf is not None and conf < DEFAULT_VIEW.certain_plate_confidence
            lines.append({
                "Photo": n, "File": r.file, "Plate #": k if r.readings else None, "Plate": text,
                "Confidence": conf, "Matches template": template,
                "Read": "" if conf is None else ("uncertain" if uncertain or not template else "certain"),
                "Plates found": r.plates, "ms": None if r.ms is None else round(r.ms), "Error": r.error or "",
            })
    table = pd.DataFrame(lines).set_index("Photo")
    st.dataframe(
        table, key="recognize_batch_table", height=min(38 + 35 * len(table), 460),
        column_config={
            "File": st.column_config.TextColumn(width=200),
            "Plate #": st.column_config.NumberColumn(help="Plates of one photo, best reading first", width=60),
            "Plate": st.column_config.TextColumn(width=100),
            "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f", width=140),
            "Matches template": st.column_config.CheckboxColumn(
                "Template", help="The reading fits one of the country's plate formats", width=80),
            "Read": st.column_config.TextColumn(
                help=f"Uncertain: confidence under {DEFAULT_VIEW.certain_plate_confidence:.0f} or no plate format "
                "fits; check it before trusting it", width=90),
            "Plates found": st.column_config.NumberColumn("Plates", width=70),
            "ms": st.column_config.NumberColumn("ms", help="Time the pipeline took on the photo", width=70),
            "Error": st.column_config.TextColumn(help="Why the file could not be read", width="large"),
        },
    )
    footer = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    footer.download_button(
        "Download table as CSV", table.to_csv(), file_name="plates.csv", mime="text/csv", on_click="ignore",
        icon=":material/download:", key="recognize_batch_csv",
    )
    # Labels, not indexes, as options: a new upload changes them, so the picker resets instead
    # of opening whichever photo now has the old index.
    labels = {f"{i}. {r.file} · {r.plate or ('unusable file' if r.error else 'no plate')}": i
              for i, r in enumerate(rows, start=1)}
    choice = footer.selectbox(
        "Open a photo", list(labels), index=None, key="recognize_batch_open", width=420,
        placeholder="Choose a photo to see how it was read…",
        help="Shows every step of that photo's read, as for a single photo.",
    )
    if choice is not None:
        index = labels[choice] - 1
        show_photo(photos[index], index)


if len(photos) > appstate.BATCH_THRESHOLD:
    show_batch(photos)
else:
    for index, photo in enumerate(photos):
        show_photo(photo, index)
