"""The slow channel: RL on the weights (rollout groups, advantages, CISPO/GRPO losses, the learner)."""
