"""Read plates in video clips: decode frames as a stream, read sampled frames, follow each car.

`alpr.video.reader.read_clip(path)` is the facade; `decode`, `track` and `report` are its stages,
`config.VideoConfig` holds every threshold. Nothing is imported here, so `alpr.video.cli` can tell
clips from photos before TensorFlow loads.
"""
