"""Model gate: build, train, evaluate and gate a scikit-learn model."""
