"""Recognize: read the plates in photos, and show every decision taken on the way to the answer."""

import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from alpr import app as appstate
from alpr.api.links import api_docs_markdown
from alpr.app.recognize_view import (
    batch_metrics,
    batch_table,
    decision_panel,
    plate_card,
    show_plate_details,
)
from alpr.assemble import COUNTRIES
from alpr.batch import view as batch_view
from alpr.errors import ImageLoadError
from alpr.readview import batch_lines, best_first, outlined_photo

appstate.require_router("recognize")

log = logging.getLogger("alpr.app")

st.title("Recognize")
st.caption(
    "Find and read the license plates in a photo: each plate is outlined with its text, its characters and "
    "how sure the reader is. **Show how it decided** unfolds what the detector looked at."
)

st.caption(api_docs_markdown())
classifier = appstate.get_classifier()

# --- inputs: photos on the left, the few reading settings on the right --------------------------
# Folded once a photo is chosen, so the read opens above the fold; the key changes with that, so
# the panel is drawn anew (open or closed) exactly then. The widgets keep their own keys and values.
chosen = (
    bool(st.session_state.get("recognize_upload"))
    or st.session_state.get("recognize_sample") is not None
    or bool(st.session_state.get("recognize_camera_on"))
)
inputs = st.expander(
    "Photos and settings",
    expanded=not chosen,
    icon=":material/add_photo_alternate:",
    key=f"recognize_inputs_{int(chosen)}",
)
photos_col, settings_col = inputs.columns([3, 1], gap="large")

with settings_col:
    codes = list(COUNTRIES)
    country = st.selectbox(
        "Plate country",
        codes,
        index=codes.index("us"),
        key="recognize_country",
        format_func=lambda code: f"{COUNTRIES[code].name} ({code})",
        help="Plate formats of this country rank the candidate strings.",
    )
    topn = st.slider(
        "Candidates per plate",
        min_value=1,
        max_value=30,
        value=10,
        key="recognize_topn",
        help="How many alternative readings to list for each plate (OpenALPR's top-N).",
    )

with photos_col:
    uploads = st.file_uploader(
        "Photos",
        type=list(appstate.IMAGE_TYPES),
        accept_multiple_files=True,
        key="recognize_upload",
        help="Each photo is read separately; up to 50 MB per file.",
    )
    samples = appstate.sample_choices()
    sample = st.selectbox(
        "Or try a sample photo",
        list(samples),
        index=None,
        key="recognize_sample",
        placeholder="Choose a sample photo…",
        help="Synthetic street scenes drawn by alpr.synth"
        + (
            f", and the images in the folder named by `{appstate.SAMPLES_DIR_ENV}`."
            if appstate.folder_samples()
            else "."
        ),
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
if linked := batch_view.linked_photo(st.query_params.get(batch_view.PHOTO_PARAM), appstate.data_roots()):
    photos.append(appstate.Photo(linked.name, linked.read_bytes()))
if not photos:
    st.info("Upload a photo, take one with the camera, or pick a sample photo to start.", icon=":material/info:")
    st.stop()


# --- one section per photo ---------------------------------------------------------------------


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
        st.image(
            outlined_photo(rec),
            width="stretch",
            caption="Green: a read to trust · orange: uncertain, check it · blue: a plate you labeled, remembered",
        )
    with read_col:
        for index, plate in order:
            plate_card(plate, rec.country, index, len(rec.plates) > 1, plate_ids, f"{key}_plate{index}")
        footer = st.container(horizontal=True, vertical_alignment="center", gap="small")
        footer.download_button(
            "OpenALPR JSON",
            appstate.openalpr_json(rec, photo.name),
            file_name=f"{Path(photo.name).stem}.json",
            mime="application/json",
            on_click="ignore",
            icon=":material/download:",
            key=f"{key}_json",
            help="The read in OpenALPR's JSON format",
        )
        if photo.expected:
            footer.caption(f"This sample was drawn with the plate **{photo.expected}**.")

    for index, plate in order:
        show_plate_details(plate, f"{key}_plate{index}")

    decision_panel(rec, order, key)


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

    batch_metrics(rows)
    table = pd.DataFrame(batch_lines(rows)).set_index("Photo")
    batch_table(table)
    footer = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    footer.download_button(
        "Download table as CSV",
        table.to_csv(),
        file_name="plates.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="recognize_batch_csv",
    )
    # Labels, not indexes, as options: a new upload changes them, so the picker resets instead
    # of opening whichever photo now has the old index.
    labels = {
        f"{i}. {r.file} · {r.plate or ('unusable file' if r.error else 'no plate')}": i
        for i, r in enumerate(rows, start=1)
    }
    choice = footer.selectbox(
        "Open a photo",
        list(labels),
        index=None,
        key="recognize_batch_open",
        width=420,
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
