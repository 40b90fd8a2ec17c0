"""Lower-case formula constructors, as ``statsmodels.formula.api``.

>>> import seism_stats.formula.api as smf
>>> res = smf.selective_motifs("expr ~ motifs(seq, k=6) + gc", data=df).fit()
"""

from ..model.motif_model import SelectiveMotifModel

selective_motifs = SelectiveMotifModel.from_formula

__all__ = ["selective_motifs"]
