"""LLM preference data without a model: annotation (interest clusters, exposure), strategy files, random,
self-play and CF-scored negatives."""
