"""The fast channel: a population of system prompts evolved by GEPA from textual feedback on the live policy."""
