"""Plate reader workbench: `streamlit run app.py`.

One app, one page per job. Recognize is the only page so far; Relabel, Train and Evaluate join
as further `st.Page` entries in PAGES.
"""
from pathlib import Path

import streamlit as st

from alpr import __version__, appstate

HERE = Path(__file__).parent

st.set_page_config(page_title="Plate reader workbench", page_icon=":material/directions_car:", layout="wide")

PAGES = [
    st.Page(HERE / "pages" / "recognize.py", title="Recognize", icon=":material/search:", default=True),
]
page = st.navigation(PAGES)

# The sidebar says which model answers, on every page. A missing model is only a warning here:
# a page that can fix it (training) must still open; the pages that need it stop on their own.
with st.sidebar:
    st.markdown("### :material/directions_car: Plate reader")
    classifier, error = appstate.try_classifier()
    if classifier is None:
        st.warning(f"No usable character model: {error}", icon=":material/warning:")
    else:
        st.caption("  \n".join(appstate.model_summary(classifier)))
    st.caption(f"**Device** {appstate.device_line()}  \nalpr {__version__}")

page.run()
