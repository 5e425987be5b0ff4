"""Evaluation: accuracy of a policy under a context, pass@k, and the base-model report."""
