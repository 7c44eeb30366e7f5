"""LLM recommenders: prompts and preference data (models, decoding and trainers arrive with later issues)."""
