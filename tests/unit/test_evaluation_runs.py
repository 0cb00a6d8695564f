"""What the Evaluate page asks of the package: the country a plate is read with, models read one
after another, uploads unpacked once, plates sent to the label store, and the folder pickers."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from alpr import evaluate as ev
from alpr.data import LabeledPlate, read_dataset
from alpr.errors import StoreError
from alpr.labels import LabelStore
from alpr.paths import folder_choices
from alpr.types import Box


def _plate(group: str) -> LabeledPlate:
    return LabeledPlate(Path("x.jpg"), "ABC123", Box(0, 0, 10, 5), group)


@pytest.mark.parametrize(
    "group, expected", [("endtoend/us", "us"), ("eu", "eu"), ("br", "br"), ("crops", "us"), ("endtoend/usa", "us")]
)
def test_a_plate_is_read_with_the_country_its_folder_names_else_us(group, expected):
    assert _plate(group).country() == expected


def test_a_chosen_country_wins_over_the_folder_name():
    assert _plate("endtoend/br").country("eu") == "eu"


def test_run_models_reads_every_item_with_each_model_in_turn(benchmark_dir, constant_model, constant_classifier):
    items = read_dataset(benchmark_dir)
    assert items, "the benchmark fixture holds labeled plates"
    seen = []
    runs = ev.run_models(
        items,
        [("first", constant_model), ("second", constant_model)],
        lambda path: constant_classifier,
        None,
        3,
        progress=lambda done, text: seen.append(done),
    )
    assert [r.label for r in runs] == ["first", "second"]
    assert all(len(r.results) == len(items) for r in runs)
    assert [res.path for res in runs[0].results] == [str(it.path) for it in items]
    assert seen[-1] == 1.0 and len(seen) == 2 * len(items)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_an_upload_is_unpacked_once_per_content(tmp_path):
    data = _zip({"set/a.txt": b"a.jpg\t0\t0\t1\t1\tABC\n"})
    first = ev.extract_upload("cars.zip", data, cache=tmp_path)
    assert (first / "set" / "a.txt").read_bytes() == b"a.jpg\t0\t0\t1\t1\tABC\n"
    (first / "marker").write_text("kept")
    again = ev.extract_upload("cars.zip", data, cache=tmp_path)
    assert again == first and (again / "marker").is_file()


def test_an_unsafe_upload_names_the_upload_and_leaves_nothing(tmp_path):
    with pytest.raises(StoreError, match=r"cars\.zip was refused: member '\.\./evil' climbs out"):
        ev.extract_upload("cars.zip", _zip({"../evil": b"x"}), cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_sent_plates_are_stored_with_their_truth_in_their_folder_s_country(
    tmp_path, benchmark_dir, constant_classifier
):
    items = tuple(read_dataset(benchmark_dir))
    photos = [i for i, it in enumerate(items) if it.box is not None]
    assert photos, "the benchmark fixture holds photos with plate boxes"
    evaluation = ev.Evaluation("bench", benchmark_dir, items, len(items), None, False, ())
    with LabelStore.open(tmp_path) as store:
        sent = list(ev.send_to_store(store, evaluation, photos, constant_classifier, "tester"))
        assert [s.name for s in sent] == [items[i].path.relative_to(benchmark_dir).as_posix() for i in photos]
        for s, i in zip(sent, photos):
            plate = store.plate(s.plate_id)
            assert plate.text_confirmed == items[i].plate and plate.country == "us"
            assert s.expected == len(items[i].plate)


def test_folder_choices_label_each_folder_by_its_root_and_path(tmp_path):
    root = tmp_path / "datasets"
    (root / "endtoend" / "us").mkdir(parents=True)
    choices = folder_choices([root], lambda r: [r, r / "endtoend" / "us"])
    assert choices == {"datasets": str(root), "datasets/endtoend/us": str(root / "endtoend" / "us")}


def test_an_evaluation_reads_with_the_config_it_is_given(benchmark_dir, classifier):
    # What scripts/ablation.py relies on: a rule switched in the config is the rule the reads use.
    from dataclasses import replace

    from alpr.config import DEFAULT

    items = read_dataset(benchmark_dir)
    as_shipped = [r.read for r in ev.evaluate_items(items, classifier)]
    nothing_long_enough = replace(DEFAULT, read=replace(DEFAULT.read, min_chars=99))
    strict = [r.read for r in ev.evaluate_items(items, classifier, config=nothing_long_enough)]
    photos = [i for i, item in enumerate(items) if item.box is not None]
    assert any(as_shipped[i] for i in photos)
    assert all(strict[i] == "" for i in photos)
