"""Watch list: known plates with a name and an alert flag; a read that matches one says so everywhere."""

import streamlit as st

from alpr import app as appstate
from alpr.app import watchlist_view as view
from alpr.errors import AlprError

appstate.require_router("watchlist")

st.title("Watch list")
st.caption(
    "Plates you know. A read that matches one, up to look-alike characters (O/0, I/1, B/8, S/5, Z/2) and one "
    "more edit, carries a badge on Recognize and Video and a `watchlist` field in every JSON answer; "
    "the API's webhooks (`serve --webhook`) also send an alert for an alert plate's read."
)

store = appstate.get_store()  # stops with the reason when the store cannot be written (or no sign-in yet)
try:
    entries = store.watchlist()
except AlprError as exc:
    st.error(f"Could not read the watch list: {exc}", icon=":material/error:")
    st.stop()

view.show_messages()
view.add_form(store)
st.subheader(f"{len(entries)} listed plate{'s' * (len(entries) != 1)}", divider="gray")
view.table(store, entries)
view.try_a_read(entries)
view.import_export(store, entries)
