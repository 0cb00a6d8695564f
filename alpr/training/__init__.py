"""Training data readers and recipes (issue 11 readers; issue 9 moves train/finetune here)."""
