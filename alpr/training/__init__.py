"""Training the character model: the pretraining pipeline (`train`) and its recipe of real data
(`recipe`, `ocr_data`), fine-tuning on the label store (`finetune`), runs as background jobs (`jobs`),
the model registry (`registry`), and the figures of a run (`train_figures`)."""
