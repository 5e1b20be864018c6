"""Laying out and saving report figures: readable labels, wrapped titles, the source line, byte-stable files.

:func:`save_figure` fits titles, puts variable-name labels in words (labels from the instrument via
:func:`instrument_labels`, else :func:`readable`), adds the source line (:func:`source_line`), crops
to what is drawn and writes PNG (150 dpi) and SVG with fixed metadata (byte-stable), the alt text
(``.txt``) and a layout record (``.json``: texts outside the canvas, labels). :mod:`cmlkit.figures`
draws the figures and re-exports these functions.
"""

from __future__ import annotations

import io
import json
import math
import re
import textwrap
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.artist  # noqa: E402
import matplotlib.backends.backend_svg  # noqa: E402
import matplotlib.layout_engine  # noqa: E402
import matplotlib.text  # noqa: E402
import matplotlib.transforms  # noqa: E402


CROP_PAD_INCHES = 0.12
"""Padding, in inches, around what is drawn when :func:`save_figure` crops the canvas."""


def source_line(wave: str, *, n: int | None = None, weighted: bool = True, extra: str = "") -> str:
    """The source line printed under every published figure: ``cmlkit · wave 2025w1 · weighted, n = 220``.

    Parameters
    ----------
    wave : str
        Wave id.
    n : int, optional
        The base, written with thousands separators after ``weighted``/``unweighted`` (left out when
        None).
    weighted : bool, default True
        Whether the figure shows weighted estimates.
    extra : str, default ""
        A further part appended after another `` · `` (left out when empty).

    Returns
    -------
    str
    """
    parts = ["cmlkit", f"wave {wave}", ("weighted" if weighted else "unweighted") + (f", n = {n:,}" if n is not None else "")]
    return " · ".join(parts + ([extra] if extra else []))


RAW_NAME = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|^[a-z]+: ?\d+$")
"""A text that looks like a variable name (``support_book_stock``) or a bare code (``cluster: 0``)."""


def instrument_labels(inst) -> dict:
    """Variable name -> label from an instrument, for :func:`save_figure`'s ``labels``.

    Parameters
    ----------
    inst : cmlkit.instrument.Instrument
        The wave's instrument.

    Returns
    -------
    dict
        Each question's canonical name -> its text after the last `` - `` (a grid item's own text),
        stripped and without a final ``?``; for ``select_*`` questions also each
        choice column ``<question>__<choice>`` -> the choice label.
    """
    out = {}
    for q in inst.questions:
        text = str(q["text"]).split(" - ")[-1].strip().rstrip("?")
        out[q["canonical"]] = text
        if q["type"].startswith("select"):
            for c in inst.choices(q["id"]):
                out[f"{q['canonical']}__{c['name']}"] = c["label"]
    return out


def readable(text: str, labels: dict | None = None) -> str:
    """``text`` as a reader should see it: a label, or a variable name or code put in words.

    Parameters
    ----------
    text : str
        A tick label, axis label or legend entry.
    labels : dict, optional
        Text -> label (e.g. :func:`instrument_labels`); checked first, and for each side of a
        ``head: tail`` text.

    Returns
    -------
    str
        The label when ``labels`` has ``text``; a bare lowercase word (letters, spaces, ``'``, ``-``)
        capitalised; a text that looks like a variable name or code (:data:`RAW_NAME`) in words, each
        side of its first ``": "`` labelled or with ``__`` as ``": "`` and ``_`` as spaces, then
        capitalised (``paid_staff: some_paid_hours`` -> ``Paid staff: some paid hours``); any other
        text unchanged.
    """
    labels = labels or {}
    if text in labels:
        return labels[text]
    if re.fullmatch(r"[a-z][a-z '-]*", text):  # a bare lowercase word ("statutory", "high") reads as a label capitalised
        return text[:1].upper() + text[1:]
    if not RAW_NAME.search(text):
        return text
    head, sep, tail = text.partition(": ")
    words = [labels.get(w, w.replace("__", ": ").replace("_", " ")) for w in ((head, tail) if sep else (text,))]
    out = sep.join(words).strip()
    return out[:1].upper() + out[1:]


def _undrawn_ticks(fig) -> set:
    """Tick labels that matplotlib keeps but does not draw (their tick lies outside the axis view)."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - eps <= tick.get_loc() <= hi + eps:
                    out |= {id(tick.label1), id(tick.label2)}
    return out


def _label_texts(fig):
    """Tick labels, axis labels and legend entries of every Axes (what a reader takes as labels)."""
    out = []
    hidden = _undrawn_ticks(fig)
    for ax in fig.axes:
        out += [t for t in list(ax.get_xticklabels()) + list(ax.get_yticklabels()) if id(t) not in hidden]
        out += [ax.xaxis.label, ax.yaxis.label]
        leg = ax.get_legend()
        if leg is not None:
            out += list(leg.get_texts())
    return [t for t in out if t.get_visible() and t.get_text()]


def _relabel(fig, labels):
    """Replace variable-name labels (ticks, axis labels, legend entries) by readable ones, in place.

    ``Axis.get_ticklabels`` updates the ticks to the current view itself, so no draw is needed first.
    """
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            old = [t.get_text() for t in axis.get_ticklabels()]
            new = [readable(t, labels) for t in old]
            if new != old:
                axis.set_ticks(axis.get_ticklocs(), new)
            axis.label.set_text(readable(axis.label.get_text(), labels))
        leg = ax.get_legend()
        for t in ([] if leg is None else leg.get_texts()):
            t.set_text(readable(t.get_text(), labels))


def _fit_titles(fig, renderer, *, margin_in: float = 0.12) -> bool:
    """Wrap any title wider than the figure less ``margin_in`` inches each side onto more lines (never cut).

    Returns whether any title was wrapped.
    """
    margin_px, wrapped = margin_in * fig.dpi, False
    for ax in fig.axes:
        for t in (ax.title, ax._left_title, ax._right_title):
            text = t.get_text()
            if not text:
                continue
            for _ in range(6):
                e = t.get_window_extent(renderer)
                width = fig.bbox.x1 - margin_px - max(e.x0, fig.bbox.x0 + margin_px)
                if e.width <= width:
                    break
                longest = max(text.split("\n"), key=len)
                chars = max(12, int(len(longest) * width / t.get_window_extent(renderer).width) - 1)
                text = "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))
                t.set_text(text)
                wrapped = True
    return wrapped


def text_outside(fig, *, bbox=None, tolerance_px: float = 1.0) -> list:
    """Visible texts of ``fig`` whose drawn extent leaves ``bbox`` (default the figure canvas).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A drawn figure.
    bbox : matplotlib.transforms.Bbox, optional
        The box, in display pixels (default ``fig.bbox``).
    tolerance_px : float, default 1.0
        How far, in pixels, a text may overhang the box.

    Returns
    -------
    list of str
        The offending texts (empty when everything lies inside). Invisible and blank texts, tick labels
        matplotlib keeps but does not draw, and texts with no extent are ignored.
    """
    renderer = fig.canvas.get_renderer()
    box = fig.bbox if bbox is None else bbox
    out = []
    hidden = _undrawn_ticks(fig)
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text().strip() or id(t) in hidden:
            continue
        e = t.get_window_extent(renderer)
        if e.width == 0 and e.height == 0:
            continue
        if e.x0 < box.x0 - tolerance_px or e.y0 < box.y0 - tolerance_px or e.x1 > box.x1 + tolerance_px or e.y1 > box.y1 + tolerance_px:
            out.append(t.get_text())
    return out


def _tight_layout(fig):
    """``fig.tight_layout()`` that leaves no layout engine behind.

    ``Figure.tight_layout`` leaves a do-nothing placeholder engine, with which every ``savefig`` draws
    the figure once more before saving even when given the box to crop to.
    """
    if fig.get_layout_engine() is not None:
        fig.set_layout_engine("none")  # as tight_layout does: an engine of the caller's must not run again
    matplotlib.layout_engine.TightLayoutEngine(rect=None).execute(fig)


def _crop_box(fig, dpi, renderer=None):
    """The box in inches that ``savefig(dpi=dpi, bbox_inches="tight", pad_inches=CROP_PAD_INCHES)`` crops to.

    Measured as ``savefig`` measures it, on the figure as laid out: its tight box with the figure at
    ``dpi`` and ``renderer`` (a function of the figure; default the Agg canvas's renderer, for PNG),
    padded by :data:`CROP_PAD_INCHES`. Text extents depend on the renderer and resolution (glyph
    hinting), so each file gets its own box; ``savefig`` given it need not draw once more to find it.
    """
    screen = fig.dpi
    fig.set_dpi(dpi)
    try:
        return fig.get_tightbbox(renderer(fig) if renderer else fig.canvas.get_renderer()).padded(CROP_PAD_INCHES)
    finally:
        fig.set_dpi(screen)


def _with_text(tight, text, renderer):
    """``fig.get_tightbbox(renderer)`` once ``text`` is added to a figure whose tight box was ``tight``.

    The figure's tight box is the union of its artists' boxes in pixels, scaled to inches; the union of
    ``tight`` with the new text's box scaled the same way is the same box (a minimum or maximum and a
    positive scale commute exactly), found without measuring every other text again.
    """
    extent = text.get_tightbbox(renderer)
    if extent is None or not (np.isfinite(extent.width) and np.isfinite(extent.height)) \
            or (extent.width == 0 and extent.height == 0):
        return tight
    fig = text.get_figure(root=True)
    return matplotlib.transforms.Bbox.union([tight, matplotlib.transforms.TransformedBbox(extent, fig.dpi_scale_trans.inverted())])


def _svg_renderer(fig):
    """The renderer ``savefig`` measures an SVG's text with (figure at 72 dpi, text as unhinted outlines)."""
    w, h = fig.get_size_inches() * 72
    return matplotlib.backends.backend_svg.RendererSVG(w, h, io.StringIO())


class _OutsideProbe(matplotlib.artist.Artist):
    """Draws nothing; drawn last, it records the texts outside the canvas being drawn (:func:`text_outside`).

    Added to a figure while its PNG is saved, it checks the saved crop with every text (legend entries
    included, which only a draw places) where the file has it, so the check needs no draw of its own.
    """

    zorder = math.inf

    def __init__(self):
        super().__init__()
        self.set_in_layout(False)
        self.outside = []

    def draw(self, renderer):
        """Record the texts outside the figure's canvas as drawn by ``renderer``."""
        self.outside = text_outside(self.figure)


def save_figure(ax, path_stem, *, alt_text: str, source: str | None = None, labels: dict | None = None,
                dpi: int = 150) -> dict:
    """Lay out, check and save the figure of ``ax`` as PNG and SVG with its alt text and a layout record.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Any Axes of the figure (as a plot function returns it); the figure is closed afterwards.
    path_stem : str or path-like
        Path of the files without suffix; missing parent folders are created.
    alt_text : str
        The alt text (e.g. from :mod:`cmlkit.figures_alt`), written stripped to ``.txt``.
    source : str, optional
        The source line (:func:`source_line`), printed small and grey under the drawn area.
    labels : dict, optional
        Text -> label for tick labels, axis labels and legend entries (:func:`readable`).
    dpi : int, default 150
        Resolution of the PNG.

    Returns
    -------
    dict
        ``{"png": Path, "svg": Path, "alt": Path, "meta": Path}`` (suffixes ``.png``, ``.svg``,
        ``.txt``, ``.json``).

    Notes
    -----
    Titles wider than the figure are wrapped (never cut); labels are put in words (:func:`readable`);
    the canvas is cropped to what is drawn with :data:`CROP_PAD_INCHES` (0.12 inch) padding: the box
    ``bbox_inches="tight"`` gives, measured for each file as ``savefig`` measures it (PNG at its dpi,
    SVG with the SVG renderer) and passed to ``savefig``, so each file is drawn once (the same crop as
    ``bbox_inches="tight"``). The PNG and SVG carry no software, date or creator
    metadata, so the same figure gives the same bytes. The ``.json`` holds ``kind`` (the plot
    function's ``cmlkit_kind``, else ``other``), ``title``, ``labels``, ``source``, ``alt``, every
    text found outside the saved PNG's canvas as it is drawn (``outside``) and any title wider than
    the figure before cropping (``titles_wider_than_figure``) — both empty for a good figure — which
    the report and the tests read.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig = ax.figure
    _relabel(fig, labels)
    fig.set_dpi(dpi)      # laid out at the PNG's resolution: the PNG is drawn with the renderer that measured the text
    renderer = fig.canvas.get_renderer()
    _tight_layout(fig)
    if _fit_titles(fig, renderer):   # a wrapped title is taller: lay out again (and check the new width)
        _tight_layout(fig)
        _fit_titles(fig, renderer)
    titles = [t for a in fig.axes for t in (a.title, a._left_title, a._right_title) if t.get_text()]
    slack = fig.dpi / 100     # one pixel at 100 dpi
    titles_outside = [t.get_text() for t in titles if t.get_window_extent(renderer).x1 > fig.bbox.x1 + slack
                      or t.get_window_extent(renderer).x0 < fig.bbox.x0 - slack]
    png_box = None
    if source:
        tight = fig.get_tightbbox(renderer)
        line = fig.text(tight.x0 / fig.get_figwidth(), tight.y0 / fig.get_figheight() - 0.01, source,
                        fontsize=7, color="0.35", ha="left", va="top")
        png_box = _with_text(tight, line, renderer)
    paths = {"png": stem.with_suffix(".png"), "svg": stem.with_suffix(".svg"), "alt": stem.with_suffix(".txt"),
             "meta": stem.with_suffix(".json")}
    probe = fig.add_artist(_OutsideProbe())
    fig.savefig(paths["png"], dpi=dpi, metadata={"Software": None},
                bbox_inches=_crop_box(fig, dpi) if png_box is None else png_box.padded(CROP_PAD_INCHES))
    probe.remove()
    fig.savefig(paths["svg"], metadata={"Date": None, "Creator": None}, bbox_inches=_crop_box(fig, 72, _svg_renderer))
    meta = {"kind": getattr(fig, "cmlkit_kind", "other"), "title": " ".join(t.get_text() for a in fig.axes
                                                                           for t in (a.title, a._left_title) if t.get_text()),
            "labels": sorted({t.get_text() for t in _label_texts(fig)}), "source": source or "",
            "outside": probe.outside, "titles_wider_than_figure": titles_outside, "alt": alt_text.strip()}
    paths["alt"].write_text(alt_text.strip() + "\n", encoding="utf-8")
    paths["meta"].write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    plt.close(fig)
    return paths
