"""jcnn.train."""
