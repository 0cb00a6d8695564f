"""Read a photo from a path, bytes or an upload into an RGB uint8 array, refusing unusable input.

Every later stage assumes (H, W, 3) uint8 RGB, so all of Pillow's pixel modes are converted here
once. Anything wrong with the input (empty, not an image, truncated, too large, too small) becomes
an `ImageLoadError` whose one-line message names the file and says what to do about it, so the
CLI and the app can show it as is.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from alpr.config import DEFAULT, LoadConfig
from alpr.errors import ImageLoadError, InputError

__all__ = ["load_image", "encode_png", "images_in", "resized", "IMAGE_TYPES"]

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

# Only the formats photos arrive in. Limiting Image.open to these keeps Pillow's rarer parsers
# (and EPS, which shells out to Ghostscript) away from untrusted uploads. "JPEG" also opens the
# multi-picture (MPO) JPEGs some phones write; DIB is BMP without its file header.
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF")
_FORMAT_NAMES = "JPEG, PNG, WebP, BMP, TIFF or GIF"
# The file name endings of those formats: what the app's upload widget accepts and what a folder
# given to `recognize` is searched for.
IMAGE_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif")

# What Pillow raises on a damaged file: OSError ("image file is truncated", "broken data
# stream"), SyntaxError (bad headers in several plugins), ValueError / struct.error (fields that
# do not unpack), EOFError (data ends inside a chunk), and TypeError / IndexError, which
# Image.open itself treats as "not this format" and which load() raises on e.g. a TIFF whose
# strip offsets are stored as fractions (found by fuzzing). Anything else is a bug, not bad input.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, struct.error, EOFError, TypeError, IndexError)
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# Held while the decode below changes the process-wide warning filters; decodes take turns.
_WARNINGS_LOCK = threading.Lock()

# The modes whose 4th channel (or palette transparency) must be composited, not dropped:
# dropping alpha turns transparent areas into whatever colour the encoder left there (often black).
_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
_UINT16_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def load_image(source: Source, config: LoadConfig = DEFAULT.load, name: str | None = None) -> np.ndarray:
    """Decode an image file into an RGB uint8 array of shape (H, W, 3), C-contiguous and writable.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        A path, the file's bytes, or an object with ``read()`` such as Streamlit's
        ``UploadedFile``. File-likes are rewound first when they can be.
    config : LoadConfig
        Size limits: ``max_bytes`` (checked before reading), ``max_pixels`` (checked before
        decoding) and ``min_side``.
    name : str, optional
        What error messages call the file. Defaults to the path, the file-like's ``name``, or
        ``"upload"`` for bytes.

    Returns
    -------
    numpy.ndarray
        RGB, uint8, (H, W, 3). EXIF orientation is applied; transparent pixels are composited on
        white; 16-bit grey is scaled (65535 -> 255) and float images are min-max scaled; only the
        first frame of an animated GIF or multi-page TIFF is returned.

    Raises
    ------
    ImageLoadError
        The file is missing, a directory, empty, larger than ``max_bytes``, not a readable
        image, truncated or corrupt, larger than ``max_pixels``, or smaller than ``min_side``.
    TypeError
        ``source`` is none of the accepted kinds.
    """
    data, label = _read_source(source, config, name)
    image = _decode(data, label, config)
    return _to_rgb(image, label)


def resized(channel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """One float channel resized to SHAPE (rows, cols) bilinearly, as float32.

    Shrinking to half or less goes through Pillow, whose bilinear filter widens with the shrink
    factor so every source pixel counts (the anti-aliasing skimage gets from a Gaussian blur of the
    whole source first): on a plate crop of a 12 Mpx photo that blur was most of segmentation's
    time. Anything else stays with skimage (anti-aliased when shrinking): segmentation's rules were
    tuned on its look, and Pillow's softer filter at every shrink read 3 fewer of the 519 US crops."""
    from skimage import transform

    channel = np.asarray(channel, dtype=np.float32)
    rows, cols = int(shape[0]), int(shape[1])
    if 2 * rows <= channel.shape[0] and 2 * cols <= channel.shape[1]:
        small = Image.fromarray(channel, mode="F").resize((cols, rows), Image.Resampling.BILINEAR)
        return np.asarray(small, dtype=np.float32)
    shrink = rows < channel.shape[0]
    return transform.resize(channel, (rows, cols), order=1, anti_aliasing=shrink).astype(np.float32)


def images_in(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside `folder` (by name ending, see IMAGE_TYPES), sorted by name.

    Not recursive. Hidden files are skipped: macOS leaves a `._NAME.jpg` beside every photo copied
    to a foreign disk, and those are not images. Raises ImageLoadError when the folder cannot be listed.
    """
    try:
        entries = list(Path(folder).iterdir())
    except OSError as exc:
        raise ImageLoadError(f"cannot list the folder {os.fspath(folder)}: {exc.strerror or exc}") from None
    return sorted(
        (
            p
            for p in entries
            if not p.name.startswith(".") and p.suffix.lower().lstrip(".") in IMAGE_TYPES and p.is_file()
        ),
        key=lambda p: p.name,
    )


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image of shape (H, W), (H, W, 3) or (H, W, 4), e.g. for a download button."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise InputError(
            f"encode_png expects a uint8 array; got dtype {rgb.dtype}. "
            "Scale to 0..255 and cast with .astype(np.uint8) first."
        )
    if not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] in (3, 4))):
        raise InputError(f"encode_png expects shape (H, W), (H, W, 3) or (H, W, 4); got {rgb.shape}.")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise InputError(f"encode_png cannot encode an empty image; got shape {rgb.shape}.")
    buffer = io.BytesIO()
    # fromarray needs C order; slices and transposes of the pipeline's arrays often are not.
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- reading the bytes -------------------------------------------------------------------------


def _read_source(source: Source, config: LoadConfig, name: str | None) -> tuple[bytes, str]:
    """The file's bytes and the label error messages use, after the empty / too-large checks."""
    if isinstance(source, (str, os.PathLike)):
        label = name if name is not None else os.fspath(source)
        data = _read_path(Path(source), label, config.max_bytes)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label = name if name is not None else "upload"
        data = bytes(source)
        _check_byte_count(len(data), label, config.max_bytes)
    elif isinstance(source, io.TextIOBase):
        # Reading a photo through a text-mode file fails later with a confusing UnicodeDecodeError.
        raise TypeError(
            f"load_image needs a binary file; got a text-mode {type(source).__name__}. Open the file with mode 'rb'."
        )
    elif hasattr(source, "read"):
        label = name if name is not None else _stream_name(source)
        data = _read_stream(source, label, config.max_bytes)
    else:
        raise TypeError(
            "load_image expects a path (str or pathlib.Path), bytes, or a binary file-like object; "
            f"got {type(source).__name__}."
        )
    if len(data) == 0:
        raise ImageLoadError(f"{label} is empty (0 bytes); upload the photo again or pick another file.")
    return data, label


def _read_path(path: Path, label: str, max_bytes: int) -> bytes:
    try:
        # stat first: a 2 GB file is refused without reading it.
        size = path.stat().st_size
        if path.is_dir():
            raise ImageLoadError(f"{label} is a directory, not an image file; pass the path of a photo inside it.")
        _check_byte_count(size, label, max_bytes)
        with path.open("rb") as f:
            # Bounded even after the stat: the file may have grown in between.
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ImageLoadError(f"no such file: {label}; check the path.") from None
    except IsADirectoryError:
        raise ImageLoadError(
            f"{label} is a directory, not an image file; pass the path of a photo inside it."
        ) from None
    except PermissionError:
        raise ImageLoadError(f"{label} cannot be read (permission denied); check the file's permissions.") from None
    except OSError as e:
        raise ImageLoadError(f"{label} cannot be read ({e.strerror or e}).") from None
    _check_byte_count(len(data), label, max_bytes)
    return data


def _read_stream(stream: BinaryIO, label: str, max_bytes: int) -> bytes:
    try:
        seekable = bool(getattr(stream, "seekable", lambda: False)())
        if seekable:
            # Rewind: Streamlit's UploadedFile keeps its position after st.image() or an earlier
            # read, and reading from the end would report a perfectly good upload as empty.
            stream.seek(0)
            size = stream.seek(0, io.SEEK_END)
            stream.seek(0)
            _check_byte_count(size, label, max_bytes)
        # Bounded read: a non-seekable stream's size is only known by reading it.
        data = stream.read(max_bytes + 1)
    except ImageLoadError:
        raise
    except OSError as e:
        raise ImageLoadError(f"{label} cannot be read ({e}); upload it again.") from None
    if isinstance(data, str):
        raise TypeError(f"load_image needs a binary file; {label} returned text. Open it with mode 'rb'.")
    data = bytes(data or b"")
    _check_byte_count(len(data), label, max_bytes)
    return data


def _stream_name(stream: object) -> str:
    # UploadedFile.name is the uploaded file name; open() files carry their path. Anything else
    # (BytesIO, or the int that os.fdopen() files have as name) gets the generic label.
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) and name else "upload"


def _check_byte_count(size: int, label: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise ImageLoadError(
            f"{label} is {_megabytes(size)}, more than the limit of {_megabytes(max_bytes)} "
            "(LoadConfig.max_bytes); resize or re-compress the photo."
        )


def _megabytes(n: int) -> str:
    return f"{n} bytes" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MB"


# --- decoding ----------------------------------------------------------------------------------


def _decode(data: bytes, label: str, config: LoadConfig) -> Image.Image:
    """Open, size-check and fully decode the first frame, turning every decode failure into ImageLoadError."""
    # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; make the warning an error so a
    # bomb never gets decoded. catch_warnings swaps the process-wide filter list (not thread-local
    # before Python 3.14), so two decodes at once (two app sessions) must not overlap: the first
    # to finish would restore the list under the second (its bomb check no longer an error) and
    # the second would then restore its copy of the first's filters, leaking them for good.
    with _WARNINGS_LOCK, warnings.catch_warnings():
        # Pillow warns (UserWarning) and carries on about damaged EXIF/TIFF tags; the caller gets
        # a usable image or an ImageLoadError either way, so the warnings only add console noise.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_FORMATS)
        except UnidentifiedImageError:
            raise ImageLoadError(
                f"{label} is not an image Pillow can read ({len(data)} bytes, {_how_it_starts(data)}); "
                f"save it as {_FORMAT_NAMES}."
            ) from None
        except _BOMB_ERRORS as e:
            raise ImageLoadError(
                f"{label} has too many pixels to decode safely ({e}); resize it below "
                f"{config.max_pixels} pixels (LoadConfig.max_pixels)."
            ) from None
        except _DECODE_ERRORS as e:
            raise ImageLoadError(
                f"{label} has a corrupt header ({_reason(e)}); re-export or upload it again."
            ) from None

        # Checked on the header's size, before load(): decoding is what costs the memory.
        width, height = image.size
        if width * height > config.max_pixels:
            raise ImageLoadError(
                f"{label} is {width}x{height} = {width * height} pixels, more than the limit of "
                f"{config.max_pixels} (LoadConfig.max_pixels); resize it before uploading."
            )
        if min(width, height) < config.min_side:
            raise ImageLoadError(
                f"{label} is only {width}x{height} pixels; both sides must be at least "
                f"{config.min_side} (LoadConfig.min_side) for a plate to be readable."
            )
        try:
            # load() decodes the first frame only: animated GIFs and multi-page TIFFs open on frame 0.
            image.load()
        except _BOMB_ERRORS as e:
            raise ImageLoadError(
                f"{label} has too many pixels to decode safely ({e}); resize it below "
                f"{config.max_pixels} pixels (LoadConfig.max_pixels)."
            ) from None
        except _DECODE_ERRORS as e:
            raise ImageLoadError(
                f"{label} is truncated or corrupt ({_reason(e)}); re-export it or upload it again."
            ) from None
        return _apply_orientation(image)


def _apply_orientation(image: Image.Image) -> Image.Image:
    # Phones store portrait photos landscape plus an EXIF "rotate" tag; without this, plates
    # arrive sideways. A malformed EXIF block only costs the rotation, never the photo.
    try:
        return ImageOps.exif_transpose(image)
    except (*_DECODE_ERRORS, KeyError):
        return image


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


# --- pixel modes -------------------------------------------------------------------------------


def _to_rgb(image: Image.Image, label: str) -> np.ndarray:
    mode = image.mode
    if mode in _UINT16_MODES:
        # Pillow's convert("L") clips 16-bit values at 255 instead of scaling; 257 maps 65535 to 255.
        grey = _scale_uint16(np.asarray(image))
        return _grey_to_rgb(grey)
    if mode == "I":
        return _grey_to_rgb(_scale_int32(np.asarray(image)))
    if mode == "F":
        return _grey_to_rgb(_scale_min_max(np.asarray(image, dtype=np.float64)))
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return _composite_on_white(image, label)
    try:
        rgb = image.convert("RGB")
    except ValueError:
        raise ImageLoadError(
            f"{label} uses pixel mode {mode!r}, which cannot be converted to RGB; save it as 8-bit RGB."
        ) from None
    # np.array (not asarray) copies: Pillow's buffer is read-only and later stages draw on the array.
    return np.array(rgb, dtype=np.uint8, order="C")


def _composite_on_white(image: Image.Image, label: str) -> np.ndarray:
    # White, not black: a transparent logo or cut-out plate on black would merge with dark characters.
    try:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint32)
    except ValueError:
        raise ImageLoadError(
            f"{label} uses pixel mode {image.mode!r}, which cannot be converted to RGB; save it as 8-bit RGBA."
        ) from None
    alpha = rgba[..., 3:4]
    rgb = (rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _scale_uint16(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _scale_int32(values: np.ndarray) -> np.ndarray:
    # Mode "I" is Pillow's 32-bit container; in practice it holds 16-bit samples (TIFF/PNG writers
    # and older Pillow widen them), so those keep the 16-bit scale. Other ranges are min-max scaled.
    if values.size and values.min() >= 0 and values.max() <= 65535:
        return _scale_uint16(values)
    return _scale_min_max(values.astype(np.float64))


def _scale_min_max(values: np.ndarray) -> np.ndarray:
    # Float TIFFs have no fixed range (0..1, 0..255, metres...), so stretch what is there.
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = values[finite].min(), values[finite].max()
    if high == low:
        # A constant image has no contrast to stretch; black is as good as any grey.
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = np.where(finite, (values - low) * (255.0 / (high - low)), 0.0)
    return np.rint(scaled).astype(np.uint8)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2), dtype=np.uint8)


def _how_it_starts(data: bytes) -> str:
    """The first bytes of a file that is not an image, in words a person reads: the text it starts
    with when it is text (a note saved as .jpg), else the bytes in hex (never Python's b'...')."""
    head = data[:16]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return f'starting with the text "{text}{"…" if len(data) > len(head) else ""}"'
    return "starting with the bytes " + " ".join(f"{b:02X}" for b in head[:8])
