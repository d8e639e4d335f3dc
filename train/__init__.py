"""twgrpo_train — the slim TW-GRPO trainer: pure token-weight maths (`weights`), rewards (`rewards`), data and
prompts (`data`), the config dataclass (`config`), the TRL subclass (`trainer`) and training curves (`plot`)."""
