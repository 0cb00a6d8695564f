"""Average character models fine-tuned from one base: their weights (a "model soup", no extra cost
when reading) or their outputs (an ensemble, one forward pass per member). docs/accuracy.md has
what this gave on the hold-out.

    python scripts/model_soup.py soup OUT.keras A.keras B.keras [...]
    python scripts/model_soup.py ensemble OUT.keras A.keras B.keras [...]

The first model's metadata JSON is copied beside OUT with the members listed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] not in ("soup", "ensemble"):
        print(__doc__.strip())
        return 2
    from alpr.classify import metadata_path
    from alpr.framework import quiet_tensorflow

    quiet_tensorflow()
    import keras
    import numpy as np

    kind, out, paths = argv[0], argv[1], argv[2:]
    models = [keras.saving.load_model(p, compile=False, safe_mode=True) for p in paths]
    if kind == "soup":
        model = keras.models.clone_model(models[0])
        model.set_weights([np.mean(ws, axis=0) for ws in zip(*[m.get_weights() for m in models])])
    else:
        glyph = keras.Input(models[0].input_shape[1:], name="glyph")
        for i, m in enumerate(models):
            m.name = f"member{i}"
        model = keras.Model(glyph, keras.layers.Average(name="mean_probs")([m(glyph) for m in models]))
    model.save(out)
    meta = json.loads(metadata_path(Path(paths[0])).read_text())
    meta["version"] = f"{meta.get('version', 'model')}-{kind}"
    meta["members"] = paths
    metadata_path(Path(out)).write_text(json.dumps(meta, indent=1))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
