"""jcnn.analysis."""

from jcnn.analysis.receptive_field import LayerRF, receptive_field, receptive_field_of_stack
from jcnn.analysis import classical
# Attacks are pure maths on inputs and live in jcnn.ops (the training loop uses them too).
from jcnn.ops.adversarial import adversarial_batch, fgsm, pgd
from jcnn.analysis.deconvnet import deconvnet, plot_deconvnet
from jcnn.analysis.erf import effective_receptive_field, erf_gaussian_sigma, erf_radius, plot_erf
from jcnn.analysis.features import feature_maps, filter_images, plot_feature_maps, plot_filters
from jcnn.analysis.filter_viz import FilterVisualization, plot_filter_visualization, visualize_filter
from jcnn.analysis.invariance import plot_invariance, translation_invariance
from jcnn.analysis.saliency import grad_cam, plot_saliency, saliency

__all__ = ["LayerRF", "receptive_field", "receptive_field_of_stack",
    "FilterVisualization", "adversarial_batch", "classical", "deconvnet", "effective_receptive_field",
    "erf_gaussian_sigma", "erf_radius", "feature_maps", "fgsm", "filter_images", "grad_cam", "pgd", "plot_deconvnet",
    "plot_erf", "plot_feature_maps", "plot_filter_visualization", "plot_filters", "plot_invariance", "plot_saliency",
    "saliency", "translation_invariance", "visualize_filter"]
