"""Who may write, in the app (Streamlit's AppTest, in-process): with a tokens file set, the app asks
for a sign-in (reading pages too, unless the operator opens them), and a read made before signing in
is not kept in the label store. AppTest runs app.py (the router, where the sign-in is asked) only on
a session's first run, so the sign-in form itself and Relabel's are driven in test_api_browser.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_support import assert_clean
from streamlit.testing.v1 import AppTest

from alpr.api import auth
from alpr.labels import LabelStore
from alpr.paths import DATA_DIR_ENV

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120


@pytest.fixture()
def tokens_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "app-tokens"
    path.write_text("letmein\n")
    monkeypatch.setenv(auth.APP_TOKENS_FILE_ENV, str(path))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(auth.APP_OPEN_READING_ENV, raising=False)
    return path


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def test_with_a_tokens_file_the_app_opens_on_a_sign_in(tokens_file):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert titles(at) == ["Sign in to use Recognize"]
    assert at.text_input(key="alpr_sign_in_token").label == "Token"
    assert_clean(at)


def test_open_reading_reads_but_keeps_nothing_before_a_sign_in(tokens_file, monkeypatch, tmp_path):
    monkeypatch.setenv(auth.APP_OPEN_READING_ENV, "1")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert titles(at) == ["Recognize"]
    assert any("make serve" in c.value or "HTTP API is running" in c.value for c in at.caption)
    at.selectbox(key="recognize_sample").select_index(0).run()
    assert any("sign in first" in w.value for w in at.warning)
    with LabelStore.open(tmp_path / "data") as store:
        assert store.recent_plates() == []
    assert_clean(at)
