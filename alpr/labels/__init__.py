"""The label store: photos, plates and their character crops in SQLite, with every label, fix and
undo kept, its import, export and archives; and what people do with it (relabeling, history, undo)."""

from alpr.labels.store import LabelStore

__all__ = ["LabelStore"]
