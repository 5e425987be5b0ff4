"""Integrations with other training engines (``fastslow.integrations.trl``: FST on TRL's ``GRPOTrainer``)."""
