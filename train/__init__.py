"""twgrpo_train: TW-GRPO on TRL — token weights (`weights`), rewards, training rows, config, trainer, plots.

The maths is importable without TRL: `from twgrpo_train.weights import token_weights_from_hidden`.
The trainer (`twgrpo_train.trainer.TWGRPOTrainer`, `run_training`) needs the `train` extra.
"""
