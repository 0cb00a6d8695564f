"""Read plates in video clips: decode frames as a stream, read sampled frames, follow each car.

`read_clip(path)` is the facade; `decode`, `track` and `report` are its stages.
"""
from alpr.video.config import DEFAULT_VIDEO, VideoConfig
from alpr.video.decode import CLIP_TYPES, ClipInfo, Frame, is_clip, probe
from alpr.video.reader import ClipRead, read_clip
from alpr.video.track import FrameRead, VehicleGroup, group_reads

__all__ = [
    "CLIP_TYPES", "DEFAULT_VIDEO", "ClipInfo", "ClipRead", "Frame", "FrameRead", "VehicleGroup", "VideoConfig",
    "group_reads", "is_clip", "probe", "read_clip",
]
