"""Training the character model: the pretraining pipeline (`train`), fine-tuning on the label
store (`finetune`), runs as background jobs (`jobs`), the model registry (`registry`), and the
figures of a run (`train_figures`)."""
