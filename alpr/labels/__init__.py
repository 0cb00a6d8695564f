"""The label store: photos, plates and their character crops in SQLite, with every label, fix and
undo kept, and its import, export and archives."""
from alpr.labels.store import LabelStore

__all__ = ["LabelStore"]
