"""The kubernetes target: a small API client, manifests, and the rollout strategies."""
