"""LLM recommenders: prompts, models, constrained decoding, candidates, preference data, training, evaluation."""
