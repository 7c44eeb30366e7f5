"""Experiments: the orchestration layer above `cf`, `llm`, `eval` and `report` (CF protocols and sampler
comparisons, the end-to-end LLM recipe runner). Like `negrec.cli`, it may import everything below it."""
