"""The label store and what people do with it: relabeling, its history and undo."""
