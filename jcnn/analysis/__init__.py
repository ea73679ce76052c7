"""jcnn.analysis."""

from jcnn.analysis.receptive_field import LayerRF, receptive_field, receptive_field_of_stack

__all__ = ["LayerRF", "receptive_field", "receptive_field_of_stack"]
