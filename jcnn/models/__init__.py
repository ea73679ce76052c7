"""jcnn.models."""
