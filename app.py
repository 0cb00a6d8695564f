"""Plate reader workbench: `streamlit run app.py`.

One app, one page per job: Recognize reads photos, Relabel fixes what the model read (the fixes are
training data), Evaluate measures a model on a labeled folder, Train fine-tunes the model on the fixes and
picks the version that reads. Each is one `st.Page` entry in PAGES.
"""

from pathlib import Path

import streamlit as st

from alpr import __version__
from alpr import app as appstate
from alpr.api.auth import guard as sign_in_guard

HERE = Path(__file__).parent
APP_NAME = "Plate reader workbench"

st.set_page_config(page_title=APP_NAME, page_icon=":material/directions_car:", layout="wide")

PAGES = [
    st.Page(HERE / "pages" / "recognize.py", title="Recognize", icon=":material/search:", default=True),
    st.Page(HERE / "pages" / "relabel.py", title="Relabel", icon=":material/edit_note:"),
    st.Page(HERE / "pages" / "evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page(HERE / "pages" / "train.py", title="Train", icon=":material/model_training:"),
    st.Page(HERE / "pages" / "video.py", title="Video", icon=":material/videocam:"),
    st.Page(HERE / "pages" / "batch.py", title="Batch", icon=":material/dataset:"),
    st.Page(HERE / "pages" / "watchlist.py", title="Watch list", icon=":material/visibility:"),
]
page = st.navigation(PAGES)
appstate.route(PAGES)

# The sidebar says which model answers, on every page. A missing model is only a warning here:
# a page that can fix it (training) must still open; the pages that need it stop on their own.
with st.sidebar:
    st.markdown("### :material/directions_car: Plate reader")
    # Before anything opens the label store: a crash (kill -9, power cut) is tidied and said once.
    recovered = appstate.startup_notes()
    if recovered:
        with st.expander(f"Recovered after a crash ({len(recovered)})", icon=":material/restore:"):
            for note in recovered:
                st.caption(note[0].upper() + note[1:] + ".")
    appstate.runtime_picker()  # before the model loads: it says which runtime reads
    classifier, error = appstate.try_classifier()
    if classifier is None:
        st.warning(f"No usable character model: {error}", icon=":material/warning:")
    else:
        st.caption("  \n".join(appstate.model_summary(classifier)))
    st.caption(f"**Device** {appstate.device_line()}  \nalpr {__version__}")

sign_in_guard(page)  # Relabel, Train and every write ask for a sign-in when the app is served beyond this machine
page.run()
