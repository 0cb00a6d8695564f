"""The sidebar's runtime setting: ONNX Runtime reads the Recognize page's photos, the sidebar says
so, and the plates shown are the ones the onnx classifier reads."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean
from alpr import app as appstate
from alpr.classify import load_classifier
from alpr.imageio import load_image
from alpr.pipeline import recognize

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _sidebar(at: AppTest) -> str:
    return " ".join(str(c.value) for c in at.sidebar.caption)


def test_the_sidebar_offers_the_runtime_and_reads_with_keras_until_it_is_changed():
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert_clean(at)
    assert at.radio(key="runtime").options == ["Keras (TensorFlow)", "ONNX Runtime"]
    assert at.radio(key="runtime").value == "keras"
    assert "TensorFlow" in _sidebar(at)


def test_with_onnx_runtime_chosen_the_page_shows_what_the_onnx_classifier_reads():
    photo = appstate.synthetic_samples()[1]
    expected = recognize(load_image(photo.data, name=photo.name), topn=10, classifier=load_classifier(runtime="onnx"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["runtime"] = "onnx"  # as the sidebar's radio sets it
    at.run()
    # (AppTest drops the sidebar's elements on later reruns, so the sidebar is read on this first one.)
    assert "ONNX Runtime" in _sidebar(at) and "TensorFlow" not in _sidebar(at)

    at.selectbox(key="recognize_sample").select_index(1).run()

    assert_clean(at)
    best = sorted(expected.plates, key=lambda p: -p.confidence)
    assert [m.value for m in at.metric] == [p.plate or "?" for p in best]
