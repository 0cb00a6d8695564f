"""The end of a fine-tuning run: compare it with the active model, write the version (network,
metadata, plate memory) to the registry, list what it learnt, and activate it when asked and
allowed. A mixin of `alpr.training.finetune.Trainer`, which supplies the run's state (cfg, log,
folder, run_dir, data, replicas)."""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

from alpr.config import DEFAULT, RankConfig
from alpr.training import jobs, rank_step, reader_step, registry
from alpr.errors import AlprError, ModelError
from alpr.training.datasets import Validation
from alpr.training.fitting import (
    PARTS,
    evaluate,
    predict,
    public,
    save_float32,
)
from alpr.training.gate import judge, learnt
from alpr.memory import PlateMemory, memory_path
from alpr.training.records import now_utc
from alpr.types import ALL_CLASSES


LEARNT_MAX = 200  # corrected plates listed per part in learnt.json (the page shows them)


class Publishing:
    # ---- 6. compare with the active model, register, maybe activate ----
    def _publish(self, model, parent: str, backbone: str, size: int, val: Validation, counts: dict) -> dict:
        new_eval = evaluate(predict(model, val.x, self.replicas), val.y, val.parts)
        active_eval, against = self._active_eval(val)
        accepted, gate = judge(new_eval, active_eval, against)
        self.log(
            f"validation: new {new_eval['accuracy']:.4f} ({new_eval['correct']}/{new_eval['n']})"
            + (
                f", active {against} {active_eval['accuracy']:.4f} ({active_eval['correct']}/{active_eval['n']})"
                if active_eval
                else ""
            )
        )
        memory = self._plate_memory()
        # A network the gate rejects is not shipped, but what the person taught still is: the
        # version keeps the active network and adds the plate memory, so the corrected plates read
        # right when seen again and nothing already read right is unlearnt.
        kept_from = None
        if not accepted and self._teaches_more(memory):
            kept_from, accepted = against, True
            gate += (
                f"; so this version keeps {against}'s network and adds the memory of {len(memory)} plates you labeled"
            )
            new_eval = active_eval
        self.log(f"gate: {gate}")
        self.guard.check()
        with self._label_store() as store:
            scorer = self._plate_scorer(store)
            self.guard.check()
            reader = self._plate_reader(store, None if kept_from else model, size, scorer.rank)
        if reader.network_rejected:
            # The crop gate passed the network, but the version read fewer whole photos than the
            # active one: as a network the crop gate turns down, it is not shipped.
            gate += "; but " + reader.summary["network_gate"]["line"].removeprefix("network: ")
            if self._teaches_more(memory):
                kept_from, new_eval = against, active_eval
                gate += f", and adds the memory of {len(memory)} plates you labeled"
            else:
                accepted = False
            self.log(f"gate: {gate}")
        self.guard.check()
        self.guard.committing = True  # from here on a SIGTERM waits: the version is written whole or not at all
        duration = round(self.elapsed_before + time.time() - self.t_start, 1)
        metadata = self._metadata(
            size, backbone, parent, duration, counts, new_eval, active_eval, against, accepted, gate
        )
        metadata["plate_memory"] = len(memory)
        metadata["network_kept_from"] = kept_from
        metadata["plate_reader"] = reader.summary
        metadata["plate_scorer"] = scorer.summary
        if scorer.rank != DEFAULT.rank:
            metadata["rank"] = asdict(scorer.rank)  # what `recognize` ranks candidates by with this version

        def write_version(path: Path) -> None:
            if kept_from:
                shutil.copyfile(self.active_model_path, path)
            else:
                save_float32(model, path, backbone)
            if len(memory):
                memory.save(memory_path(path))
            reader.copy_into(path.parent)

        version = registry.register(write_version, metadata, self.folder)
        self.log(f"registered {version.name} ({version.status}) in {version.path.parent}")
        self._write_learnt(None if kept_from else model, memory)
        if accepted and counts["store_train"] + counts["store_val"] and self.cfg.use_store:
            self._mark_trained(version.name, counts["last_label_id"])
        activated = False
        if accepted and self.cfg.activate:
            registry.activate(version.name, self.folder, by=f"run {self.run_dir.name}")
            activated = True
            self.log(f"activated {version.name}")
        elif self.cfg.activate:
            self.log(f"not activated: {version.name} is worse than {against} on the validation set")
        message = (
            f"{version.name} registered"
            + (" and activated" if activated else "")
            + f": validation accuracy {new_eval['accuracy']:.1%}"
            + (f" vs {active_eval['accuracy']:.1%} for {against}" if active_eval else "")
            + ("" if accepted else "; rejected, so it was not activated")
            + f". Gate: {gate}"
            + (f". {reader.summary['gate']}" if reader.summary.get("gate", "").startswith("reader:") else "")
        )
        self.log(f"done in {duration} s: {message}")
        return {
            "state": "succeeded" if accepted else "rejected",
            "version": version.name,
            "activated": activated,
            "val_accuracy": new_eval["accuracy"],
            "active_val_accuracy": active_eval["accuracy"] if active_eval else None,
            "compared_with": against,
            "duration_s": duration,
            "message": message,
            "gate": gate,
        }

    @contextlib.contextmanager
    def _label_store(self):
        """The data folder's label store, or None when the run leaves the store out."""
        if not self.cfg.use_store:
            yield None
            return
        from alpr.labels.store import LabelStore

        with LabelStore.open(self.folder) as store:
            yield store

    def _plate_scorer(self, store) -> rank_step.RankOutcome:
        """Detection's candidate rank, refitted with the store's plate boxes (rank_step.py)."""
        active = registry.active(self.folder)
        parent = RankConfig.from_dict(active.metadata.get("rank")) or DEFAULT.rank
        return rank_step.run(store, parent, log=self.log)

    def _plate_reader(self, store, model, size: int, rank: RankConfig) -> reader_step.ReaderOutcome:
        """The whole-plate reader the version carries: the parent's fine-tuned on the store's plates
        when it reads the gate's photos at least as well, else the parent's; and whether a new
        network reads those photos at least as well as the active version (reader_step.py).
        MODEL None: the version keeps the active network, which then reads the gate's photos."""
        from alpr.classify import CharClassifier, ModelInfo, load_classifier
        from alpr.runtime import KerasNetwork

        active_path = getattr(self, "active_model_path", None) or registry.active_model_path(self.folder)
        # The active network, as `_active_eval` loaded it (else from its file), reading with `rank`;
        # the gate reads without the plate memory, so its copy drops it.
        active = getattr(self, "active_classifier", None)
        active = active.without_memory() if active is not None else load_classifier(active_path)
        active.info = replace(active.info, metadata={**active.info.metadata, "rank": asdict(rank)})
        if model is None:
            classifier, active = active, None  # the version keeps the active network: none to judge
        else:
            extra = {"format_priors": getattr(self, "format_priors", []), "rank": asdict(rank)}
            classifier = CharClassifier(
                KerasNetwork(model), ModelInfo(self.run_dir / "new", "new", ALL_CLASSES, size, extra)
            )
        config = reader_step.ReaderStepConfig(epochs=self.cfg.reader_epochs)
        return reader_step.run(
            self.run_dir, active_path, classifier, store, self.cfg.datasets, config, self.log, active_classifier=active
        )

    def _plate_memory(self) -> PlateMemory:
        """Every plate a person confirmed or corrected in the store, remembered by its look
        (alpr/memory.py): the version reads them right when it sees them again, whatever the cut.
        Empty when the run does not use the store."""
        if not self.cfg.use_store:
            return PlateMemory.from_photos([])
        from alpr.labels.store import LabelStore

        with LabelStore.open(self.folder) as store:
            memory = PlateMemory.from_photos(store.taught_plates())
        self.log(f"memory: {len(memory)} plates a person labeled, recalled when seen again")
        return memory

    def _teaches_more(self, memory: PlateMemory) -> bool:
        """Whether MEMORY holds a plate, or a text for it, that the active version does not remember."""
        if not len(memory) or not getattr(self, "active_model_path", None):
            return False
        known = getattr(self, "active_memory", None)
        return not set(memory.taught()) <= (set(known.taught()) if known is not None else set())

    def _write_learnt(self, model, memory: PlateMemory) -> None:
        """learnt.json: the corrected plates read before (the active model) and after (see
        `gate.learnt`; MODEL None: the version kept the active network), and whether the version
        remembers each one whole (alpr/memory.py)."""
        d = getattr(self, "data", None) or {}
        if "p_store_tr" not in d:
            return
        try:
            before = registry.load_active(self.folder)[0]
        except ModelError:
            return
        after = before.probabilities if model is None else (lambda x: predict(model, x, self.replicas))
        rows = learnt(d, before.probabilities, after, LEARNT_MAX)
        if not rows:
            return
        remembered = set(memory.plate_ids)
        rows = [{**r, "remembered": r["plate"] in remembered} for r in rows]
        jobs.write_json(self.run_dir / "learnt.json", {"plates": rows})
        trained = [r for r in rows if not r["held_out"]]
        self.log(
            f"learnt: {sum(r['fixed'] for r in trained)}/{len(trained)} corrected plates trained on read right, "
            f"{sum(r['fixed'] for r in rows if r['held_out'])}/{len(rows) - len(trained)} held out; "
            f"{sum(r['remembered'] for r in rows)}/{len(rows)} remembered whole"
        )

    def _active_eval(self, val: Validation) -> tuple[dict | None, str | None]:
        try:
            active_clf, active_version, warning = registry.load_active(self.folder)
        except ModelError as exc:
            self.log(f"note: no active model to compare with ({exc})")
            return None, None
        if warning:
            self.log(f"note: {warning}")
        self.active_model_path = active_clf.info.path  # a rejected run's version keeps this network
        self.active_classifier = active_clf  # the photo gate reads with it too
        self.active_memory = active_clf.memory
        return evaluate(val.probabilities_of(active_clf), val.y, val.parts), active_version.name

    def _metadata(
        self, size, backbone, parent, duration, counts, new_eval, active_eval, against, accepted, gate
    ) -> dict:
        hyper = {
            k: getattr(self.cfg, k)
            for k in (
                "base",
                "backbone",
                "epochs",
                "unfreeze_epochs",
                "lr",
                "unfreeze_lr",
                "batch_size",
                "patience",
                "glyphs_per_class",
                "real_weight",
                "seed",
                "use_store",
                "replay",
                "datasets",
            )
        }
        return {
            "classes": list(ALL_CLASSES),
            "input_size": size,
            "backbone": backbone,
            "created": now_utc(),
            "command": self.command,
            "config": asdict(self.cfg),
            "device": self.device,
            "duration_s": duration,
            "data": counts,
            "validation": public(new_eval),
            "history": [r.summary() for r in self._metrics()],
            # What the person's confirmed plates say of each region's format, for the assembler.
            "format_priors": getattr(self, "format_priors", []),
            "registry": {
                "parent": parent,
                "status": registry.STATUS_ACCEPTED if accepted else registry.STATUS_REJECTED,
                "run_id": self.run_dir.name,
                "hyperparameters": hyper,
                "metrics": {
                    f"val_accuracy_{PARTS[i]}": p["accuracy"] for i, p in enumerate(new_eval["parts_list"]) if p
                },
                "comparison": {
                    "against": against,
                    "gate": gate,
                    "new": {
                        "accuracy": new_eval["accuracy"],
                        "correct": new_eval["correct"],
                        "n": new_eval["n"],
                        "parts": new_eval["parts"],
                    },
                    "active": None
                    if active_eval is None
                    else {
                        "accuracy": active_eval["accuracy"],
                        "correct": active_eval["correct"],
                        "n": active_eval["n"],
                        "parts": active_eval["parts"],
                        "per_class": active_eval["per_class"],
                    },
                },
            },
        }

    def _mark_trained(self, version: str, last_label_id: int) -> None:
        from alpr.labels import LabelStore

        try:
            with LabelStore.open(self.folder) as store:
                store.mark_trained(version, last_label_id)
        except AlprError as exc:
            self.log(f"note: could not record the training in the label store ({exc})")
