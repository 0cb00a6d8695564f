"""The typed hand-offs of a training run: JobConfig (config.json), EpochRow (metrics.jsonl) and
RunStatus (status.json), and the figures drawn from the rows."""

from __future__ import annotations

import pytest

from alpr.errors import JobError
from alpr.training import jobs
from alpr.training.records import EpochRow, JobConfig, RunStatus
from alpr.training.train_figures import curves_figure, throughput_figure


def _rows() -> list[EpochRow]:
    return [
        EpochRow(
            stage="head",
            epoch=e,
            epochs=2,
            global_epoch=e,
            total_epochs=2,
            loss=1.0 / e,
            acc=0.5 + e / 10,
            val_loss=1.2 / e,
            val_acc=0.4 + e / 10,
            lr=1e-3 / e,
            samples_per_s=100.0 * e,
            best=e == 2,
        )
        for e in (1, 2)
    ]


def test_an_epoch_row_reads_back_what_it_wrote_and_ignores_unknown_keys():
    row = _rows()[1]
    assert EpochRow.from_dict({**row.as_dict(), "from_a_newer_version": 1}) == row
    assert EpochRow.from_dict({"epoch": 3}).epoch == 3  # an older, shorter line still reads


def test_a_version_s_history_leaves_out_the_per_class_table_and_confusion_matrix():
    summary = EpochRow(per_class={"A": {"n": 1}}, confusion=[[1]]).summary()
    assert "per_class" not in summary and "confusion" not in summary and "val_acc" in summary


def test_a_status_update_refuses_a_field_nobody_reads(tmp_path):
    with pytest.raises(TypeError, match="not RunStatus fields: vesion"):
        jobs.update_status(tmp_path, vesion="v3")
    status = jobs.update_status(tmp_path, state="running", pid=12)
    assert isinstance(status, RunStatus) and (status.state, status.pid) == ("running", 12)
    assert RunStatus.from_dict(jobs.read_json(tmp_path / "status.json")).updated


def test_a_job_config_sets_the_unfrozen_stage_to_a_tenth_of_the_learning_rate():
    cfg = JobConfig()
    cfg.set_lr(1e-3)
    assert (cfg.lr, cfg.unfreeze_lr) == (1e-3, pytest.approx(1e-4))
    assert JobConfig.from_dict({**cfg.as_dict(), "unknown": 1}) == cfg


def test_a_job_config_without_data_or_with_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(JobError, match="nothing to train on"):
        JobConfig(use_store=False, glyphs_per_class=0).check()
    with pytest.raises(JobError, match="is not a folder"):
        JobConfig(datasets=[str(tmp_path / "missing")]).check()
    JobConfig(datasets=[str(tmp_path)]).check()


def test_the_curves_plot_each_row_s_losses_and_accuracies():
    fig = curves_figure(_rows(), planned_epochs=2, active_accuracy=0.55)
    by_name = {(t.name, t.xaxis): list(t.y) for t in fig.data if t.name in ("training", "validation")}
    assert by_name[("training", "x")] == [1.0, 0.5]
    assert by_name[("validation", "x2")] == [pytest.approx(0.5), pytest.approx(0.6)]


def test_the_throughput_plot_shows_samples_per_second_per_epoch():
    fig = throughput_figure(_rows())
    assert list(fig.data[0].y) == [100.0, 200.0]
