"""twgrpo_eval — the evaluation harness: prompts, backends (vLLM, transformers, OpenAI-compatible), the
resumable runner, re-scoring of logs and comparison of runs. Heavy backends are imported only when used."""
