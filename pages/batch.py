"""Batch: what a `python -m alpr batch` run read: counts, plates per photo, confidences, errors."""

import plotly.express as px
import streamlit as st

from alpr import app as appstate
from alpr.batch import view
from alpr.batch.writers import ResultsError

appstate.require_router("batch")

st.title("Batch")
st.markdown(
    "The results of `python -m alpr batch` (Parquet or JSONL, see docs/batch.md): "
    "what was read, how sure, and which files could not be read."
)
roots = appstate.data_roots()
pick_col, upload_col = st.columns(2, gap="large")
found = view.results_in(roots)
choice = pick_col.selectbox(
    "Results in the data folders",
    list(found),
    index=None,
    key="batch_results",
    placeholder="Choose a results file…" if found else "None found under the data folders",
)
upload = upload_col.file_uploader(
    "Or upload a .jsonl, or one part of a .parquet folder", type=["parquet", "jsonl"], key="batch_upload"
)
try:
    frame = (
        view.load(data=upload.getvalue(), name=upload.name) if upload else view.load(found[choice]) if choice else None
    )
except ResultsError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()
if frame is None:
    st.info("Choose a results file or upload one.", icon=":material/info:")
    st.stop()

cards = st.container(horizontal=True, gap="small")
for label, value in view.counts(frame).items():
    cards.metric(label, value, border=True, width=150)
chart_col, per_photo_col = st.columns(2, gap="large")
confidence = px.histogram(
    x=view.plate_confidences(frame),
    height=280,
    range_x=(0, 100),
    labels={"x": "Plate confidence"},
    title="Confidence of every plate read",
)
confidence.update_traces(xbins={"start": 0, "end": 100, "size": 5})
chart_col.plotly_chart(confidence, key="batch_confidence", config={"displayModeBar": False})
per_photo = view.plates_per_photo(frame)
per_photo_col.plotly_chart(
    px.bar(
        x=per_photo.index,
        y=per_photo.values,
        height=280,
        title="Plates per photo read",
        labels={"x": "Plates found", "y": "Photos"},
    ).update_xaxes(type="category"),
    key="batch_plates",
    config={"displayModeBar": False},
)
st.dataframe(
    frame.drop(columns=["path", "confidences"]),
    key="batch_table",
    hide_index=True,
    column_config={
        "confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f", width=120),
        "error": st.column_config.TextColumn(width="large"),
    },
)

open_col, link_col = st.columns([3, 1], vertical_alignment="bottom")
read_as = view.read_as(frame)
photo = open_col.selectbox(
    "Open a photo on the Recognize page",
    frame["path"],
    index=None,
    key="batch_open",
    placeholder="Choose a photo to see every step of its read…",
    format_func=lambda p: f"{p} · {read_as[p]}",
)
if photo is not None:
    link = view.recognize_link(photo, roots)
    if link:
        link_col.page_link("pages/recognize.py", label="Open in Recognize", icon=":material/search:", query_params=link)
    else:
        link_col.caption("This photo is outside the data folders the app may read.")
