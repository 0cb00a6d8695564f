"""Video: upload a clip, follow each car across its frames, one voted plate per vehicle."""

import logging

import streamlit as st

from alpr import app as appstate
from alpr import figures
from alpr.app.watchlist_view import read_badge
from alpr.errors import VideoError
from alpr.video import app as video
from alpr.video.decode import CLIP_TYPES

appstate.require_router("video")
st.title("Video")
st.markdown(
    "Read the plates in a clip: each car is followed across the frames read, and its plate is voted "
    "character by character over every frame that saw it."
)

upload_col, settings_col = st.columns([3, 1], gap="large")
fps = settings_col.select_slider(
    "Frames read per second",
    [1.0, 2.0, 4.0, 8.0],
    value=2.0,
    key="video_fps",
    help="More reads per car vote better; fewer read a long clip faster.",
)
upload = upload_col.file_uploader(
    "Clip", type=list(CLIP_TYPES), key="video_upload", help="MP4/H.264, MOV, WebM, MKV or MJPEG (AVI); up to 500 MB."
)
use_sample = upload_col.toggle("Or use a rendered sample clip (three cars, 12 s)", key="video_sample")
if upload is not None:
    clip = video.clip_of(upload.name, upload.getvalue())
elif use_sample:
    clip = video.clip_of(video.SAMPLE_NAME, video.sample_clip())
else:
    st.info(
        "Upload a clip or use the sample to start. (A live camera needs a WebRTC relay outside this "
        "machine, so the page reads recorded clips only.)",
        icon=":material/info:",
    )
    st.stop()

bar = st.progress(0.0, text=f"Reading {clip.name}…")
try:
    result = video.read(
        clip,
        fps,
        lambda done, total: bar.progress(
            min(1.0, done / total) if total else 0.0, text=f"Reading {clip.name}: {done:.1f} of {total:.0f} s"
        ),
    )
except VideoError as exc:
    bar.empty()
    st.error(str(exc), icon=":material/error:")
    st.stop()
except Exception as exc:  # a demo never shows a traceback; the server log has it
    logging.getLogger("alpr.app").exception("reading the clip %s failed", clip.name)
    bar.empty()
    st.error(f"Could not read {clip.name}: {exc}", icon=":material/error:")
    st.stop()
bar.empty()
for warning in result.warnings:
    st.warning(warning, icon=":material/warning:")
st.caption(
    f"{result.info.width}x{result.info.height} {result.info.codec}, {result.info.duration_s:.1f} s · "
    f"{len(result.frames)} frames read in {result.seconds:.1f} s · {len(result.groups)} vehicle(s)"
)
if not result.groups:
    st.info("No plate was followed across frames in this clip.", icon=":material/search_off:")
    st.stop()

st.dataframe(
    video.groups_table(result.groups),
    key=f"video_groups_{clip.digest[:12]}",
    column_config={
        "Plate crop": st.column_config.ImageColumn(width="small"),
        "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f"),
    },
)
labels = [video.group_label(i, g) for i, g in enumerate(result.groups)]
chosen = st.selectbox(
    "Vehicle", range(len(labels)), format_func=labels.__getitem__, key=f"video_pick_{clip.digest[:12]}"
)
group = result.groups[chosen]

reads_col, frame_col = st.columns([2, 3], gap="large")  # the reads table needs its five columns
with reads_col:
    st.markdown(f"**Frames that read vehicle {chosen + 1}** · voted **{group.plate}**")
    read_badge(group.plate)
    st.dataframe(video.reads_table(group), hide_index=True, key=f"video_reads_{clip.digest[:12]}_{chosen}")
    if st.button(
        "Fix this read",
        icon=":material/edit_note:",
        key=f"video_fix_{clip.digest[:12]}_{chosen}",
        help="Store the best frame like a photo and open it on Relabel.",
    ):
        try:
            plate_id = video.store_best_frame(clip, group)
        except VideoError as exc:  # the clip's file was removed meanwhile (many uploads at once)
            st.error(str(exc), icon=":material/error:")
            plate_id = None
        if plate_id is not None:
            st.page_link(
                "pages/relabel.py",
                label="Open it on Relabel",
                icon=":material/edit_note:",
                query_params={"plate": plate_id},
            )
with frame_col:
    times = [f.time_s for f in result.frames]
    shown = st.select_slider(
        "Sampled frame (s)", times, value=group.best.time_s, key=f"video_frame_{clip.digest[:12]}_{chosen}"
    )
    try:
        rec = video.frame_read(str(clip.path), shown, appstate.get_classifier().info.version)
    except VideoError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.plotly_chart(figures.photo_figure(rec, show_components=False), key=f"video_photo_{clip.digest[:12]}")
