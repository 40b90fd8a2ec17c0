"""Figures: sequence logos, null distributions and calibration Q-Q plots (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Conventional nucleotide colours (as in WebLogo and logomaker).
LETTER_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def information_content(ppm: np.ndarray) -> np.ndarray:
    """Bits of information per position: ``2 + sum_b p_b log2 p_b``."""
    p = np.clip(np.asarray(ppm, dtype=np.float64), 1e-12, 1.0)
    return 2.0 + np.sum(p * np.log2(p), axis=1)


def draw_logo(ax, ppm: np.ndarray, title: str | None = None, start: int = 0, axes: bool = True) -> None:
    """Draw a sequence logo of a PPM (rows are positions, columns A, C, G, T) on ``ax``.

    Letter heights are probability x information content (bits), stacked with
    the most probable letter on top. ``start`` shifts the logo right by that many
    positions (to align it with another); ``axes=False`` draws the letters only.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.font_manager import FontProperties
    from matplotlib.text import TextPath
    from matplotlib.transforms import Affine2D

    ppm = np.asarray(ppm, dtype=np.float64)
    heights = ppm * information_content(ppm)[:, None]
    font = FontProperties(family="DejaVu Sans", weight="bold")
    for position, row in enumerate(heights):
        bottom = 0.0
        for b in np.argsort(row):
            h = row[b]
            if h <= 1e-4:
                continue
            letter = "ACGT"[b]
            path = TextPath((0, 0), letter, size=1, prop=font)
            extent = path.get_extents()
            transform = (Affine2D().translate(-extent.x0, -extent.y0)
                         .scale(0.9 / extent.width, h / extent.height)
                         .translate(start + position + 0.05, bottom))
            ax.add_patch(PathPatch(transform.transform_path(path), color=LETTER_COLORS[letter], lw=0))
            bottom += h
    ax.set_xlim(start, start + ppm.shape[0])
    ax.set_ylim(0, 2)
    if not axes:
        ax.set_axis_off()
        if title:
            ax.set_title(title, fontsize=8, loc="left")
        return
    ax.set_xticks(start + np.arange(ppm.shape[0]) + 0.5, [str(i + 1) for i in range(ppm.shape[0])])
    ax.set_ylabel("bits")
    ax.set_xlabel("position in motif")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)


def plot_motif_logos(ppms: Sequence[np.ndarray], titles: Sequence[str] | None = None, width: float = 0.6):
    """One logo per motif, stacked vertically; returns the Figure."""
    import matplotlib.pyplot as plt

    n = max(1, len(ppms))
    k = max((p.shape[0] for p in ppms), default=4)
    fig, axes = plt.subplots(n, 1, figsize=(max(3.0, width * k + 1), 2.0 * n), squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        if j < len(ppms):
            draw_logo(ax, ppms[j], titles[j] if titles else None)
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no motif selected", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def logo_thumbnail(ppm: np.ndarray, column_width: float = 0.22, height: float = 0.55):
    """A small logo without axes (for tables); returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(0.8, column_width * ppm.shape[0]), height))
    draw_logo(ax, ppm, axes=False)
    fig.subplots_adjust(0, 0, 1, 1)
    return fig


def plot_aligned_logos(query: np.ndarray, match: np.ndarray, offset: int, labels: Sequence[str] = ("", ""),
                       column_width: float = 0.22, row_height: float = 0.55):
    """The query's logo above a matched motif's logo, aligned (Tomtom's alignment figure).

    Parameters
    ----------
    query, match : ndarray (width, 4)
        ``match`` on the matched strand (as :class:`~seism_stats.report.motif_match.MotifMatch` holds it).
    offset : int
        Start of ``match`` relative to the query's first column.
    labels : two str
        Drawn left of each row.
    """
    import matplotlib.pyplot as plt

    lo, hi = min(0, offset), max(query.shape[0], offset + match.shape[0])
    fig, axes = plt.subplots(2, 1, figsize=(max(1.2, column_width * (hi - lo)), 2 * row_height))
    for ax, ppm, start, label in zip(axes, (query, match), (0, offset), labels):
        draw_logo(ax, ppm, start=start, axes=False)
        ax.set_xlim(lo, hi)
        if label:
            ax.text(lo, 2.3, label, fontsize=8, va="bottom", ha="left", color="0.3")
    fig.subplots_adjust(0, 0, 1, 0.85 if any(labels) else 1, hspace=0.35 if any(labels) else 0.08)
    return fig


def plot_null_distribution(null_statistics: np.ndarray, observed: float, title: str | None = None,
                           bins: int = 50):
    """Histogram of null statistics in the selection event with the observed value; returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(null_statistics, bins=bins, color="0.7", edgecolor="0.4", density=True,
            label=f"null draws in the event (B={len(null_statistics)})")
    return _finish_null_plot(fig, ax, observed, "statistic T (fraction of residual variance explained)", title)


def _finish_null_plot(fig, ax, observed: float, xlabel: str, title: str | None):
    """The observed value, labels, legend and title of a null-distribution plot."""
    ax.axvline(observed, color="#D62839", lw=2, label="observed")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_null_law(law, title: str | None = None, points: int = 600):
    """Density of a motif's statistic given the selection (:class:`~seism_stats.stats.circle_tests.CircleNullLaw`),
    the observed value and the tail the p-value counts; returns the Figure."""
    import matplotlib.pyplot as plt

    finite = law.segments[np.isfinite(law.segments)]
    span = max(abs(law.observed) * 1.2, float(np.max(np.abs(finite))) if finite.size else 1.0, 1.0)
    span = min(span, max(abs(law.observed) * 1.5, 8.0))
    grid = np.linspace(-span, span, points)
    density = law.density(grid)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(grid, density, color="0.3", lw=1.2, label="null law given the selection")
    tail = np.abs(grid) >= abs(law.observed) if law.two_sided else grid >= law.observed
    ax.fill_between(grid, 0, density, where=tail, color="#D62839", alpha=0.3, label="p-value (tail)")
    return _finish_null_plot(fig, ax, law.observed, "t statistic of the motif", title)


def plot_weighted_null(law, title: str | None = None, bins: int = 50):
    """Weighted histogram of a motif's statistic given the selection and the draws
    (:class:`~seism_stats.stats.tilted_permutations.TiltedNullLaw`), the observed value and the tail the
    p-value counts; returns the Figure."""
    import matplotlib.pyplot as plt

    edges = np.linspace(0.0, max(float(np.max(law.statistics)), law.observed) * 1.02, bins + 1)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(law.statistics, bins=edges, weights=law.weights, density=True, color="0.7", edgecolor="0.4",
            label="null law given the selection (weighted draws)")
    tail = law.statistics >= law.observed
    if tail.any():
        ax.hist(law.statistics[tail], bins=edges, weights=law.weights[tail] / np.diff(edges)[0], color="#D62839",
                alpha=0.3, label="p-value (tail)")
    return _finish_null_plot(fig, ax, law.observed, "statistic T (fraction of residual variance explained)", title)


def qqplot_pvalues(pvalues, labels: Sequence[str] | None = None, ax=None, band: float = 0.95):
    """Q-Q plot of p-values against the uniform distribution, with a pointwise band.

    Parameters
    ----------
    pvalues : array-like, or dict / sequence of array-likes
        One set of p-values per method.
    labels : sequence of str, optional
    ax : matplotlib Axes, optional
    band : float
        Coverage of the pointwise Beta band for uniform order statistics.

    NaN entries (motifs not selected, fits that gave no p-value) are left out;
    values outside [0, 1] raise ``ValueError``.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from scipy import stats

    if isinstance(pvalues, dict):
        labels = list(pvalues) if labels is None else labels
        sets = list(pvalues.values())
    elif np.ndim(pvalues[0]) == 0:
        sets = [pvalues]
    else:
        sets = list(pvalues)
    labels = labels or [f"set {i + 1}" for i in range(len(sets))]
    for p, label in zip(sets, labels):
        values = np.asarray(p, dtype=float)
        outside = values[np.isfinite(values) & ((values < 0) | (values > 1))]
        if outside.size or np.isinf(values).any():
            bad = outside[0] if outside.size else values[np.isinf(values)][0]
            raise ValueError(f"qqplot_pvalues: {label!r} has a value outside [0, 1] ({bad}): not a p-value")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
    else:
        fig = ax.figure
    m_max = max(np.isfinite(np.asarray(p, dtype=float)).sum() for p in sets)
    if m_max:
        i = np.arange(1, m_max + 1)
        expected = i / (m_max + 1)
        lo = stats.beta.ppf((1 - band) / 2, i, m_max + 1 - i)
        hi = stats.beta.ppf(1 - (1 - band) / 2, i, m_max + 1 - i)
        ax.fill_between(expected, lo, hi, color="0.85", label=f"{band:.0%} band (uniform)")
    for p, label in zip(sets, labels):
        p = np.sort(np.asarray(p, dtype=float)[np.isfinite(p)])
        if p.size:
            ax.plot(np.arange(1, p.size + 1) / (p.size + 1), p, ".", ms=3, label=label)
    ax.plot([0, 1], [0, 1], color="k", lw=0.8)
    ax.set_xlabel("uniform quantiles")
    ax.set_ylabel("observed p-values")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    return fig
