"""After training: ``fst distill`` (bake the evolved prompt into the weights) and ``fst export`` (a Hugging Face
model folder that behaves as trained, with no fastslow needed to load it)."""
