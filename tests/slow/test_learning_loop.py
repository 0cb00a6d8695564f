"""The learning loop with photos, as a person runs it: read photos, correct two plates (one whose cut
fits the text, one cut into a segment too few), train once with the defaults, read again.

The corrected plates must then read as the person typed them, through the plate memory the run
saves with its version, whether the gate accepted the new network or kept the old one; a photo
nobody corrected must read exactly as before. scripts/learning_loop.py measures the same on the
OpenALPR benchmark (docs/training.md).
"""

from __future__ import annotations

import json

import pytest

from conftest import make_scene
from train_helpers import run_cli

from alpr.labels.store import LabelStore
from alpr.memory import memory_path
from alpr.pipeline import recognize
from alpr.training import jobs, registry

TINY = ["--glyphs-per-class", "2", "--epochs", "1", "--unfreeze-epochs", "0"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory, classifier):
    data = tmp_path_factory.mktemp("loop") / "data"
    fits, short, untouched = make_scene("ABC1234", 2), make_scene("7ABC123", 3), make_scene("KDX4417", 11)
    typed = {}
    with LabelStore.open(data) as store:
        for name, scene in (("fits", fits), ("short", short), ("untouched", untouched)):
            rec = recognize(scene.image, classifier=classifier)
            assert rec.plates, f"the shipped model finds no plate in the {name} scene"
            [plate_id, *_] = store.add_recognition(scene.image, rec, f"{name}.png", classifier.info.version)
            read = rec.plates[0].plate
            if name == "fits":  # a "correction" of the last character: the cut fits the text
                typed[name] = read[:-1] + ("8" if read[-1] != "8" else "9")
                assert store.label_plate(plate_id, typed[name]).matched
            elif name == "short":  # a character the cut missed: only the text can be kept
                typed[name] = read + "5"
                assert not store.label_plate(plate_id, typed[name]).matched
    proc, seconds = run_cli("train", "--data-dir", data, *TINY, "--activate")
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    after, version, _ = registry.load_active(data)
    return {
        "data": data,
        "proc": proc,
        "typed": typed,
        "scenes": {"fits": fits, "short": short, "untouched": untouched},
        "before": classifier,
        "after": after,
        "version": version,
    }


def test_one_default_run_activates_a_version_that_remembers_the_corrected_plates(loop):
    version = loop["version"]
    assert version.name != "shipped" and version.status == "accepted"
    assert version.metadata["plate_memory"] == 2
    assert memory_path(version.path).is_file()
    assert sorted(loop["after"].memory.texts) == sorted(loop["typed"].values())
    assert "memory: 2 plates a person labeled" in loop["proc"].stdout


@pytest.mark.parametrize("name", ["fits", "short"])
def test_a_corrected_plate_reads_as_the_person_typed_it(loop, name):
    rec = recognize(loop["scenes"][name].image, classifier=loop["after"])
    assert rec.plates[0].plate == loop["typed"][name]
    assert rec.plates[0].recalled is not None


def test_a_photo_nobody_corrected_reads_as_before(loop):
    image = loop["scenes"]["untouched"].image
    before = recognize(image, classifier=loop["before"])
    after = recognize(image, classifier=loop["after"])
    assert all(p.recalled is None for p in after.plates)
    if loop["version"].metadata.get("network_kept_from"):  # the same network: the very same read
        assert [p.plate for p in after.plates] == [p.plate for p in before.plates]


def test_the_train_page_lists_the_corrected_plate_as_remembered(loop):
    run = jobs.list_runs(loop["data"])[0]
    rows = json.loads((run.dir / "learnt.json").read_text())["plates"]
    assert rows and all(r["remembered"] for r in rows)
