"""seism_stats: selective inference for sequence motifs learned by one-layer CNNs (SEISM).

Select the k-mer motifs most associated with a response (what training a
one-layer convolutional network does), then test them with p-values that stay
valid after that selection, by sampling the null conditioned on the selection
event. Data-split and naive p-values are reported beside them.

Functional API: :func:`selective_inference`. Model API:
:class:`SelectiveMotifModel` (statsmodels-shaped, with formulas).
"""

import os

# OpenMP threads wait passively between the kernels' many short parallel regions: with
# libgomp's default spinning, threads lost 2.5-4x to one thread on a machine where other
# processes were busy (issue 10). Set before the kernels load libgomp; a value the user
# exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._version import __version__  # noqa: E402
from .features.kmers import window_counts  # noqa: E402
from .inference.pipeline import selective_inference  # noqa: E402
from .inference.result import MotifInference  # noqa: E402
from .io.sequences import EncodedSequences, encode_sequences, read_fasta  # noqa: E402
from .model.motif_model import SelectiveMotifModel  # noqa: E402
from .model.results import SelectiveMotifResults  # noqa: E402
from .report.plotting import qqplot_pvalues  # noqa: E402


__all__ = [
    "EncodedSequences",
    "MotifInference",
    "SelectiveMotifModel",
    "SelectiveMotifResults",
    "qqplot_pvalues",
    "encode_sequences",
    "read_fasta",
    "selective_inference",
    "window_counts",
    "__version__",
]
