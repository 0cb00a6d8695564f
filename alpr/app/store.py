"""The label store as the pages use it: one open store per data folder, who labels, and keeping a
read so it shows on the Relabel page."""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict

import streamlit as st

from alpr.app.console import log
from alpr.app.samples import Photo
from alpr.classify import CharClassifier
from alpr.errors import AlprError, StoreError
from alpr.labels import LabelStore
from alpr.paths import data_dir
from alpr.types import Recognition

# Plate ids the label store gave each photo read in this session, by the photo's SHA-256, so the
# Recognize page can link a read to its plate on the Relabel page.
_STORED_KEY = "_alpr_stored_plates"
_AUTHOR_KEY = "_alpr_author"
_STORE_WARNED_KEY = "_alpr_store_warned"
_KEPT_KEY = "_alpr_kept_reads"
_MAX_STORED = 64


@st.cache_resource(show_spinner=False, max_entries=4)
def _open_store(folder: str) -> LabelStore:
    # One store (one SQLite connection, guarded by a lock) per folder for every session; a folder
    # that cannot be opened raises, and Streamlit does not cache a raise, so the next rerun retries.
    return LabelStore.open(folder)


def try_store() -> tuple[LabelStore | None, str | None]:
    """The label store of this process, or None and the reason it cannot be opened."""
    from alpr.api.auth import may_write

    if not may_write():  # every write of the app goes through this store: none before a sign-in
        return None, "sign in first (open the Relabel page): this app asks who may change its labels"
    try:
        return _open_store(str(data_dir().resolve())), None
    except StoreError as exc:
        return None, str(exc)


def get_store() -> LabelStore:
    """The label store for a page that cannot work without it: shows why and stops if unusable."""
    store, error = try_store()
    if store is None:
        st.error(f"The label store cannot be used: {error}", icon=":material/error:")
        st.stop()
    return store


def watch_entries() -> tuple:
    """The watch list, for the badges of Recognize and Video: read without a sign-in (it changes
    nothing); () when the store cannot be opened (the reads still show, without badges)."""
    try:
        return _open_store(str(data_dir().resolve())).watchlist()
    except AlprError as exc:
        log.warning("could not read the watch list: %s", exc)
        return ()


def author() -> str:
    """Who labels, as stored with each label: one id per browser session, so Undo takes back only
    this session's own actions and the history says a label came from the app."""
    if _AUTHOR_KEY not in st.session_state:
        st.session_state[_AUTHOR_KEY] = f"app-{uuid.uuid4().hex[:8]}"
    return st.session_state[_AUTHOR_KEY]


def keep_read(photo: Photo, rec: Recognition, classifier: CharClassifier) -> list[int]:
    """Keep a read in the label store, so it shows on the Relabel page; returns its plate ids. Never
    fails the page: a store that cannot be written is reported once per session and [] returned."""
    digest = hashlib.sha256(photo.data).hexdigest()
    stored: OrderedDict = st.session_state.setdefault(_STORED_KEY, OrderedDict())
    # A rerun draws the same read again: keep it once per (photo, country, top-N, model), as it was read.
    kept: OrderedDict = st.session_state.setdefault(_KEPT_KEY, OrderedDict())
    read_key = (digest, rec.country, rec.topn, classifier.info.version)
    if read_key in kept and digest in stored:
        return list(stored[digest])
    store, error = try_store()
    try:
        if store is None:
            raise StoreError(error)
        ids = store.add_recognition(rec.image, rec, photo.name, classifier.info.version)
    except AlprError as exc:
        log.warning("could not keep the read of %s in the label store: %s", photo.name, exc)
        if not st.session_state.get(_STORE_WARNED_KEY):
            st.session_state[_STORE_WARNED_KEY] = True
            st.warning(f"Reads are not being kept for relabeling: {exc}", icon=":material/warning:")
        return []
    stored[digest] = ids
    stored.move_to_end(digest)
    kept[read_key] = True
    for memo in (stored, kept):
        while len(memo) > _MAX_STORED:
            memo.popitem(last=False)
    return list(ids)


def stored_plates(photo: Photo) -> list[int]:
    """The label store's plate ids of a photo read in this session, best plate first (may be empty)."""
    digest = hashlib.sha256(photo.data).hexdigest()
    return list(st.session_state.get(_STORED_KEY, {}).get(digest, []))
