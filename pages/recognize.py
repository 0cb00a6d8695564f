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

appstate.require_router("recognize")

log = logging.getLogger("alpr.app")

# Plotly's toolbar without its logo and the selection tools (nothing here reacts to a selection);
# zoom, pan and the camera button (save as PNG) stay for looking closely at a photo.
PLOT_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
STATIC_PLOT = {"displayModeBar": False}

st.title("Recognize")
st.markdown(
    "Find and read the license plates in a photo. Hover over the boxes drawn on the photo to see "
    "what the detector looked at and why it kept or rejected each region."
)

st.caption(api_docs_markdown())
classifier = appstate.get_classifier()

# --- inputs: photos on the left, the few reading settings on the right --------------------------
photos_col, settings_col = st.columns([3, 1], gap="large")

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

def show_plate(plate, key: str) -> None:
    """One plate: the crop with its characters, the candidate strings, each character's top-k."""
    crop_col, table_col = st.columns(2, gap="large")
    with crop_col:
        st.markdown("**Characters found on the plate**")
        st.plotly_chart(figures.plate_figure(plate), key=f"{key}_crop", config=STATIC_PLOT)
    with table_col:
        st.markdown(f"**Candidate readings** · {plate.binarization} binarization")
        table = pd.DataFrame(
            {
                "Plate": [c.plate for c in plate.candidates],
                "Confidence": [c.confidence for c in plate.candidates],
                "Matches template": [c.matches_template for c in plate.candidates],
            },
            index=pd.RangeIndex(1, len(plate.candidates) + 1, name="Rank"),
        )
        st.dataframe(
            table, key=f"{key}_candidates", height=min(36 + 35 * len(table), 300),
            column_config={
                # Pixel widths that fit half of a laptop-sized page, so no column hides off the edge.
                "Plate": st.column_config.TextColumn(width=110),
                "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f",
                                                              width=150),
                "Matches template": st.column_config.CheckboxColumn(
                    "Template", help="Fits one of the country's plate formats", width=80),
            },
        )
    st.markdown("**What the classifier saw** · each character crop and its most likely classes (∅: not a character)")
    st.plotly_chart(figures.topk_figure(plate), key=f"{key}_topk", config=STATIC_PLOT)


def show_result(photo: appstate.Photo, rec, key: str) -> None:
    """The answer first, then the photo with the evidence, then each plate, then the details."""
    if not rec.plates:
        st.info(
            f"No plate found in {photo.name}. The photo below shows every region the detector looked at; "
            "hover over a box to see why it was rejected.",
            icon=":material/search_off:",
        )
    cards = st.container(horizontal=True, gap="small")
    for i, plate in enumerate(rec.plates, start=1):
        template = "matches a template" if plate.matches_template else "no template match"
        cards.metric(
            f"Plate {i}" if len(rec.plates) > 1 else "Plate", plate.plate or "?", border=True, width=280,
            delta=f"confidence {plate.confidence:.1f} · {template}",
            delta_color="green" if plate.matches_template else "gray", delta_arrow="off",
        )
    footer = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    footer.download_button(
        "Download OpenALPR JSON", appstate.openalpr_json(rec, photo.name),
        file_name=f"{Path(photo.name).stem}.json", mime="application/json", on_click="ignore",
        icon=":material/download:", key=f"{key}_json",
    )
    plate_ids = appstate.stored_plates(photo)
    if plate_ids:
        footer.page_link("pages/relabel.py", label="Fix this read", icon=":material/edit_note:",
                         query_params={"plate": plate_ids[0]},
                         help="Correct the characters on the Relabel page; the fixes become training data.")
    if photo.expected:
        footer.caption(f"This sample was drawn with the plate **{photo.expected}**.")

    toggles = st.container(horizontal=True, gap="medium")
    components = toggles.toggle("Components", value=True, key=f"{key}_components",
                                help="Connected components: green kept as character- or plate-like, red rejected.")
    candidates = toggles.toggle("Plate candidates", value=True, key=f"{key}_candidates_on",
                                help="Regions that might hold a plate: blue kept, orange rejected.")
    numbers = toggles.toggle("Component labels", value=False, key=f"{key}_labels",
                             disabled=not components, help="Write each component's label number on it.")
    st.plotly_chart(figures.photo_figure(rec, components, candidates, numbers), key=f"{key}_photo",
                    config=PLOT_CONFIG)

    if rec.plates:
        names = [f"Plate {i} · {p.plate or '?'}" for i, p in enumerate(rec.plates, start=1)]
        for i, (tab, plate) in enumerate(zip(st.tabs(names, key=f"{key}_plates"), rec.plates)):
            with tab:
                show_plate(plate, f"{key}_plate{i}")
    st.space("small")
    timings_col, regions_col = st.columns([2, 3], gap="large")
    with timings_col:
        st.plotly_chart(figures.timings_figure(rec), key=f"{key}_timings", config=STATIC_PLOT)
    with regions_col, st.expander(f"Detection regions ({len(rec.plate_candidates)})", icon=":material/table_rows:"):
        st.dataframe(
            pd.DataFrame(
                {
                    "Kept": [c.kept for c in rec.plate_candidates],
                    "Reason": [c.reason for c in rec.plate_candidates],
                    "Found as": [c.source for c in rec.plate_candidates],
                    "Binarization": [c.binarization for c in rec.plate_candidates],
                    "Characters": [c.char_count for c in rec.plate_candidates],
                    "Score": [round(c.score, 2) for c in rec.plate_candidates],
                    "Box (x, y, w, h)": [f"{c.box.x}, {c.box.y}, {c.box.w}, {c.box.h}" for c in rec.plate_candidates],
                }
            ),
            hide_index=True, key=f"{key}_regions",
        )


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

    table = pd.DataFrame(
        {
            "File": [r.file for r in rows],
            "Plate": [r.plate for r in rows],
            "Confidence": [r.confidence for r in rows],
            "Matches template": [r.matches_template for r in rows],
            "Plates found": [r.plates for r in rows],
            "ms": [None if r.ms is None else round(r.ms) for r in rows],
            "Error": [r.error or "" for r in rows],
        },
        index=pd.RangeIndex(1, len(rows) + 1, name="#"),
    )
    st.dataframe(
        table, key="recognize_batch_table", height=min(38 + 35 * len(table), 460),
        column_config={
            "File": st.column_config.TextColumn(width=200),
            "Plate": st.column_config.TextColumn(width=100),
            "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f", width=140),
            "Matches template": st.column_config.CheckboxColumn(
                "Template", help="The best reading fits one of the country's plate formats", width=80),
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
