"""seism_stats: selective inference for sequence motifs learned by one-layer CNNs (SEISM).

Select the k-mer motifs most associated with a response (what training a
one-layer convolutional network does), then test them with p-values that stay
valid after that selection, by sampling the null conditioned on the selection
event. Data-split and naive p-values are reported beside them.

Functional API: :func:`selective_inference`. Model API:
:class:`SelectiveMotifModel` (statsmodels-shaped, with formulas).
"""

from .inference import MotifInference, selective_inference
from .model import SelectiveMotifModel
from .plotting import qqplot_pvalues
from .results import SelectiveMotifResults
from .sequences import EncodedSequences, encode_sequences, read_fasta

__version__ = "0.1.0"

__all__ = [
    "EncodedSequences",
    "MotifInference",
    "SelectiveMotifModel",
    "SelectiveMotifResults",
    "qqplot_pvalues",
    "encode_sequences",
    "read_fasta",
    "selective_inference",
    "__version__",
]
