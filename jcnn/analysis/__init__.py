"""jcnn.analysis."""
