"""load_image: every format and pixel mode to RGB uint8, and one clear ImageLoadError per kind of bad input.

Every fixture is drawn with Pillow inside the test, so the expected pixel values are known exactly.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from alpr.config import LoadConfig
from alpr.errors import ImageLoadError
from alpr.imageio import encode_png, load_image, resized

# Lets the mode tests use 3-pixel-wide rows whose values are easy to read.
TINY = LoadConfig(min_side=1)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but which carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def solid(mode: str, color, size=(16, 16)) -> Image.Image:
    return Image.new(mode, size, color)


def noise(size=(16, 16)) -> Image.Image:
    """Random RGB: unlike a solid colour, it does not compress below a few hundred bytes."""
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


# --- formats -----------------------------------------------------------------------------------


def test_png_rgb_round_trips_exactly():
    out = load_image(encode(solid("RGB", (200, 100, 50)), "PNG"))
    assert out.shape == (16, 16, 3)
    assert out.dtype == np.uint8
    assert np.all(out == (200, 100, 50))


def test_jpeg_rgb_decodes_to_the_saved_colour():
    out = load_image(encode(solid("RGB", (200, 100, 50)), "JPEG", quality=95))
    assert out.shape == (16, 16, 3)
    assert out[8, 8].tolist() == [200, 100, 50]


def test_lossless_webp_round_trips_exactly():
    out = load_image(encode(solid("RGB", (10, 220, 30)), "WEBP", lossless=True))
    assert out.shape == (16, 16, 3)
    assert np.all(out == (10, 220, 30))


def test_bmp_round_trips_exactly():
    out = load_image(encode(solid("RGB", (1, 2, 3), size=(17, 9)), "BMP"))
    assert out.shape == (9, 17, 3)
    assert np.all(out == (1, 2, 3))


def test_tiff_round_trips_exactly():
    out = load_image(encode(solid("RGB", (40, 50, 60), size=(12, 10)), "TIFF"))
    assert out.shape == (10, 12, 3)
    assert np.all(out == (40, 50, 60))


def test_gif_round_trips_exactly():
    out = load_image(encode(solid("RGB", (255, 0, 0)), "GIF"))
    assert out.shape == (16, 16, 3)
    assert np.all(out == (255, 0, 0))


def test_result_is_c_contiguous_and_writable():
    out = load_image(encode(solid("RGB", (1, 2, 3)), "PNG"))
    assert out.flags["C_CONTIGUOUS"]
    assert out.flags["WRITEABLE"]


# --- pixel modes -------------------------------------------------------------------------------


def test_grey_is_copied_to_all_three_channels():
    out = load_image(encode(solid("L", 77), "PNG"))
    assert np.all(out == (77, 77, 77))


def test_one_bit_image_becomes_black_and_white():
    image = solid("1", 0)
    image.paste(1, (0, 0, 8, 16))
    out = load_image(encode(image, "PNG"))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 15].tolist() == [0, 0, 0]


def test_rgba_fully_transparent_becomes_white():
    out = load_image(encode(solid("RGBA", (0, 0, 0, 0)), "PNG"))
    assert np.all(out == 255)


def test_rgba_opaque_keeps_its_colour():
    out = load_image(encode(solid("RGBA", (10, 20, 30, 255)), "PNG"))
    assert np.all(out == (10, 20, 30))


def test_rgba_half_transparent_black_blends_with_white():
    out = load_image(encode(solid("RGBA", (0, 0, 0, 128)), "PNG"))
    # 255 * (255 - 128) / 255 = 127
    assert np.all(out == 127)


def test_grey_alpha_transparent_becomes_white():
    out = load_image(encode(solid("LA", (0, 0)), "PNG"))
    assert np.all(out == 255)


def test_palette_image_maps_indices_to_palette_colours():
    image = solid("P", 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 8, 16))
    out = load_image(encode(image, "PNG"))
    assert out[0, 0].tolist() == [0, 0, 255]
    assert out[0, 15].tolist() == [255, 0, 0]


def test_palette_transparent_index_becomes_white():
    image = solid("P", 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 8, 16))
    out = load_image(encode(image, "PNG", transparency=1))
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 15].tolist() == [255, 0, 0]


def test_grey_png_transparent_colour_becomes_white():
    out = load_image(encode(solid("L", 50), "PNG", transparency=50))
    assert np.all(out == 255)


def test_cmyk_pure_cyan_becomes_rgb_cyan():
    out = load_image(encode(solid("CMYK", (255, 0, 0, 0)), "TIFF"))
    assert np.all(out == (0, 255, 255))


def test_cmyk_jpeg_pure_cyan_becomes_rgb_cyan():
    out = load_image(encode(solid("CMYK", (255, 0, 0, 0)), "JPEG", quality=95))
    assert out[8, 8].tolist() == [0, 255, 255]


def test_16_bit_grey_png_is_scaled_not_clipped():
    image = Image.new("I;16", (3, 8))
    image.putdata([65535, 25700, 1000] * 8)
    out = load_image(encode(image, "PNG"), TINY)
    # Pillow's own convert("L") would clip 1000 to 255; dividing by 257 gives 4.
    assert out[0, :, 0].tolist() == [255, 100, 4]


def test_16_bit_big_endian_tiff_is_scaled():
    image = Image.new("I;16B", (3, 8))
    image.putdata([65535, 25700, 0] * 8)
    data = encode(image, "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I;16B"
    out = load_image(data, TINY)
    assert out[0, :, 0].tolist() == [255, 100, 0]


def test_32_bit_int_tiff_holding_16_bit_values_uses_the_16_bit_scale():
    image = Image.new("I", (3, 8))
    image.putdata([65535, 25700, 0] * 8)
    out = load_image(encode(image, "TIFF"), TINY)
    assert out[0, :, 0].tolist() == [255, 100, 0]


def test_32_bit_int_tiff_with_negative_values_is_min_max_scaled():
    image = Image.new("I", (3, 8))
    image.putdata([-1000, 0, 1000] * 8)
    out = load_image(encode(image, "TIFF"), TINY)
    assert out[0, :, 0].tolist() == [0, 128, 255]


def test_float_tiff_is_min_max_scaled():
    image = Image.new("F", (3, 8))
    image.putdata([0.0, 0.5, 1.0] * 8)
    out = load_image(encode(image, "TIFF"), TINY)
    assert out[0].tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255]]


def test_constant_float_tiff_is_black():
    out = load_image(encode(solid("F", 3.5), "TIFF"))
    assert np.all(out == 0)


# --- orientation and frames --------------------------------------------------------------------


def test_exif_orientation_6_rotates_clockwise():
    image = Image.new("RGB", (32, 16), (255, 0, 0))
    image.paste((0, 0, 255), (16, 0, 32, 16))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = load_image(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.shape == (32, 16, 3)
    # After a clockwise turn the left (red) half is on top, the right (blue) half below.
    assert out[4, 8].argmax() == 0
    assert out[28, 8].argmax() == 2


def test_corrupt_exif_is_ignored_even_when_warnings_are_errors():
    # The EXIF block ends in the middle of its first entry; Pillow warns "Corrupt EXIF data".
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03"
    data = encode(solid("L", 90), "JPEG", exif=exif)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = load_image(data)
    assert np.all(out == 90)


def test_animated_gif_returns_the_first_frame():
    frames = [solid("RGB", (255, 0, 0)), solid("RGB", (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = load_image(data)
    assert np.all(out == (255, 0, 0))


def test_multi_page_tiff_returns_the_first_page():
    pages = [solid("RGB", (0, 255, 0)), solid("RGB", (0, 0, 255))]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = load_image(data)
    assert np.all(out == (0, 255, 0))


# --- sources -----------------------------------------------------------------------------------


def test_reads_a_str_path(tmp_path):
    path = tmp_path / "car.png"
    solid("RGB", (5, 6, 7)).save(path)
    assert load_image(str(path))[0, 0].tolist() == [5, 6, 7]


def test_reads_a_pathlib_path(tmp_path):
    path = tmp_path / "car.png"
    solid("RGB", (5, 6, 7)).save(path)
    assert load_image(path)[0, 0].tolist() == [5, 6, 7]


def test_reads_a_bytearray():
    data = bytearray(encode(solid("RGB", (5, 6, 7)), "PNG"))
    assert load_image(data)[0, 0].tolist() == [5, 6, 7]


def test_reads_a_file_like_already_read_to_the_end():
    stream = io.BytesIO(encode(solid("RGB", (5, 6, 7)), "PNG"))
    stream.read()  # as st.image(uploaded) leaves a Streamlit UploadedFile
    assert load_image(stream)[0, 0].tolist() == [5, 6, 7]


def test_reads_an_open_binary_file(tmp_path):
    path = tmp_path / "car.png"
    solid("RGB", (5, 6, 7)).save(path)
    with path.open("rb") as f:
        assert load_image(f)[0, 0].tolist() == [5, 6, 7]


def test_text_mode_file_is_a_type_error(tmp_path):
    path = tmp_path / "car.png"
    solid("RGB", (5, 6, 7)).save(path)
    with path.open("r") as f, pytest.raises(TypeError, match="mode 'rb'"):
        load_image(f)


def test_array_source_is_a_type_error():
    with pytest.raises(TypeError, match="got ndarray"):
        load_image(np.zeros((16, 16, 3), np.uint8))


# --- errors ------------------------------------------------------------------------------------


def test_empty_bytes_are_refused_as_empty():
    with pytest.raises(ImageLoadError, match=r"^upload is empty \(0 bytes\)"):
        load_image(b"")


def test_empty_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "blank.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"blank\.jpg is empty \(0 bytes\)"):
        load_image(path)


def test_text_file_renamed_jpg_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"hello, this is not a photo\n")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(
        f'{path} is not an image Pillow can read (27 bytes, starting with the text "hello, this is n…")'
    )
    assert "b'" not in message  # no Python bytes literal in front of a person
    assert "\n" not in message


def test_bytes_error_uses_the_given_name():
    with pytest.raises(ImageLoadError, match=r"^plate\.png is not an image Pillow can read"):
        load_image(b"garbage bytes", name="plate.png")


def test_file_like_error_uses_its_name_attribute():
    class Upload(io.BytesIO):  # Streamlit's UploadedFile is a BytesIO with .name
        name = "dashcam.jpg"

    with pytest.raises(ImageLoadError, match=r"^dashcam\.jpg is not an image"):
        load_image(Upload(b"garbage bytes"))


def test_truncated_jpeg_is_refused_as_truncated():
    data = encode(noise((64, 64)), "JPEG")
    with pytest.raises(ImageLoadError, match=r"^cut\.jpg is truncated or corrupt"):
        load_image(data[: len(data) // 2], name="cut.jpg")


def test_png_with_a_damaged_idat_chunk_is_refused_as_corrupt():
    data = bytearray(encode(solid("RGB", (10, 20, 30)), "PNG"))
    start = data.index(b"IDAT") + 4  # first byte of the chunk's data
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    data[start + length // 2] ^= 0xFF
    with pytest.raises(ImageLoadError, match=r"^bad\.png is truncated or corrupt"):
        load_image(bytes(data), name="bad.png")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ImageLoadError, match=r"^bomb\.png has too many pixels to decode safely"):
        load_image(png_header_only(30000, 30000), name="bomb.png")


def test_pillow_bomb_warning_is_an_error_even_when_our_limit_is_higher():
    # 100 Mpx is above Pillow's warning threshold (~89 Mpx) but below its hard error.
    with pytest.raises(ImageLoadError, match=r"too many pixels to decode safely"):
        load_image(png_header_only(10000, 10000), LoadConfig(max_pixels=10**9))


def test_pixel_limit_is_checked_before_decoding():
    # The header claims 4000x4000 but carries 16 bytes of data: only a header check can give this message.
    with pytest.raises(
        ImageLoadError, match=r"^big\.png is 4000x4000 = 16000000 pixels, more than the limit of 1000000"
    ):
        load_image(png_header_only(4000, 4000), LoadConfig(max_pixels=1_000_000), name="big.png")


def test_bytes_over_max_bytes_are_refused():
    data = encode(noise(), "PNG")
    with pytest.raises(ImageLoadError, match=rf"^upload is {len(data)} bytes, more than the limit of 100 bytes"):
        load_image(data, LoadConfig(max_bytes=100))


def test_file_over_max_bytes_is_refused(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(encode(noise(), "PNG"))
    with pytest.raises(ImageLoadError, match=r"huge\.png is \d+ bytes, more than the limit of 100 bytes"):
        load_image(path, LoadConfig(max_bytes=100))


def test_stream_over_max_bytes_is_refused_without_reading_it():
    class CountingStream(io.BytesIO):
        def read(self, size=-1):
            raise AssertionError("read() called on an oversized stream")

    with pytest.raises(ImageLoadError, match=r"^upload is 1000 bytes, more than the limit of 100 bytes"):
        load_image(CountingStream(b"\0" * 1000), LoadConfig(max_bytes=100))


def test_one_pixel_image_is_too_small():
    with pytest.raises(ImageLoadError, match=r"^dot\.png is only 1x1 pixels; both sides must be at least 8"):
        load_image(encode(solid("RGB", (0, 0, 0), size=(1, 1)), "PNG"), name="dot.png")


def test_directory_is_refused(tmp_path):
    with pytest.raises(ImageLoadError, match=r"is a directory, not an image file"):
        load_image(tmp_path)


def test_missing_file_is_refused_as_no_such_file(tmp_path):
    path = tmp_path / "gone.jpg"
    with pytest.raises(ImageLoadError, match=r"^no such file: .*gone\.jpg"):
        load_image(path)


def test_unsupported_format_is_refused_even_if_pillow_could_read_it():
    # ICO is a real image format, but not one photos arrive in; only the six listed ones are parsed.
    with pytest.raises(ImageLoadError, match=r"save it as JPEG, PNG, WebP, BMP, TIFF or GIF"):
        load_image(encode(solid("RGB", (1, 2, 3)), "ICO"))


# --- encode_png --------------------------------------------------------------------------------


def test_encode_png_round_trips_through_load_image():
    rgb = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    assert np.array_equal(load_image(encode_png(rgb)), rgb)


def test_encode_png_accepts_a_non_contiguous_view():
    rgb = np.arange(16 * 32 * 3, dtype=np.uint8).reshape(16, 32, 3)[:, ::2]
    assert np.array_equal(load_image(encode_png(rgb)), rgb)


def test_encode_png_refuses_float_arrays():
    with pytest.raises(ValueError, match="uint8 array; got dtype float64"):
        encode_png(np.zeros((8, 8, 3)))


def test_encode_png_refuses_two_channel_arrays():
    with pytest.raises(ValueError, match=r"got \(8, 8, 2\)"):
        encode_png(np.zeros((8, 8, 2), np.uint8))


# --- property: any bytes give an array or ImageLoadError ---------------------------------------


def _valid_files() -> list[bytes]:
    """Small valid files, one per format and interesting mode, for the mutation strategy."""
    rgb = noise((9, 9))
    return [
        encode(rgb, "PNG"),
        encode(rgb, "JPEG"),
        encode(rgb, "WEBP"),
        encode(rgb, "BMP"),
        encode(rgb, "TIFF"),
        encode(rgb, "GIF"),
        encode(rgb.convert("RGBA"), "PNG"),
        encode(rgb.convert("CMYK"), "TIFF"),
        encode(Image.new("I;16", (9, 9), 300), "PNG"),
        encode(Image.new("F", (9, 9), 0.5), "TIFF"),
        encode(
            rgb,
            "JPEG",
            exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00",
        ),
    ]


_VALID = _valid_files()
_HEADERS = [
    b"\x89PNG\r\n\x1a\n",
    png_header_only(9, 9)[:33],  # signature + a valid IHDR, so the fuzzing reaches the pixel data
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
]


@st.composite
def _mutated_valid_file(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


_ANY_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda head, tail: head + tail, st.sampled_from(_HEADERS), st.binary(max_size=2000)),
    _mutated_valid_file(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ANY_BYTES)
def test_any_bytes_give_an_rgb_array_or_image_load_error(data):
    # min_side=1 lets tiny fuzzed images reach the decoder; the pixel cap keeps a fuzzed header
    # claiming a large size from making the test slow.
    config = LoadConfig(min_side=1, max_pixels=1_000_000)
    try:
        out = load_image(data, config)
    except ImageLoadError as e:
        assert "\n" not in str(e)
    else:
        assert out.dtype == np.uint8
        assert out.ndim == 3 and out.shape[2] == 3
        assert out.flags["C_CONTIGUOUS"]


# ---- resized: the one resize segmentation and the colour views use


def test_resized_keeps_a_flat_channel_flat_and_returns_the_asked_shape_in_float32():
    flat = np.full((300, 900), 0.4, np.float32)
    for shape in [(40, 120), (200, 600), (600, 1800)]:  # shrink a lot (Pillow), a little and grow (skimage)
        out = resized(flat, shape)
        assert out.shape == shape and out.dtype == np.float32
        assert np.allclose(out, 0.4, atol=1e-5)


def test_a_large_shrink_averages_every_source_pixel_so_fine_stripes_turn_grey():
    # One-pixel stripes shrunk 8x: a plain bilinear sample would pick whole stripes (0 or 1);
    # a filter as wide as the shrink sees them all and gives their mean.
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (256, 512))
    out = resized(stripes, (32, 128))
    assert np.abs(out[2:-2, 2:-2] - 0.5).max() < 0.05


def test_a_small_shrink_matches_skimage_anti_aliased_resize_exactly():
    # Shrinks by less than half keep skimage's look: segmentation's rules were tuned on it.
    from skimage import transform

    rng = np.random.default_rng(0)
    channel = rng.random((90, 300)).astype(np.float32)
    expected = transform.resize(channel, (64, 213), order=1, anti_aliasing=True).astype(np.float32)
    assert np.array_equal(resized(channel, (64, 213)), expected)
