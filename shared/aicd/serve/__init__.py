"""The model server that goes into the image and the local target: predict, health, feedback, metrics."""
