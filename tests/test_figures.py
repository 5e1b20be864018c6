"""cmlkit.figures: layout checks, readable labels, source line and the alt-text builders."""
import io
import json
import re

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cmlkit import figures


def test_text_outside_the_canvas_is_found():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("inside")
    fig.text(1.3, 0.5, "far right")
    fig.text(0.5, -0.4, "below")
    assert sorted(figures.text_outside(fig)) == ["below", "far right"]
    plt.close(fig)


def test_save_figure_wraps_titles_relabels_and_records(tmp_path, lib):
    t = pd.DataFrame({"label": ["services__book_lending", "support_book_stock", "Reading"], "share": [0.9, 0.5, 0.2],
                      "n_answered": [10, 10, 10]})
    ax = figures.plot_share_bars(t, title="A title far too long to fit on one line of a figure seven inches wide, so it is wrapped")
    labels = figures.instrument_labels(lib)
    paths = figures.save_figure(ax, tmp_path / "bars", alt_text=figures.alt_share_bars(t, what="libraries"),
                                source=figures.source_line("2025w1", n=10, weighted=False), labels=labels)
    meta = json.loads(paths["meta"].read_text())
    assert meta["outside"] == [] and meta["titles_wider_than_figure"] == [] and meta["kind"] == "share_bars"
    assert "\n" in meta["title"] and meta["source"] == "cmlkit · wave 2025w1 · unweighted, n = 10"
    assert "Book lending" in meta["labels"] and "Support book stock" in meta["labels"]
    assert not [x for x in meta["labels"] if figures.RAW_NAME.search(x)]
    assert paths["png"].read_bytes()[:4] == b"\x89PNG" and paths["alt"].read_text().startswith("Horizontal bar chart")


def _heatmap_and_legend(title):
    """A heatmap with a colour bar and a line chart with a legend outside the axes (what save_figure lays out)."""
    heat = figures.plot_heatmap(pd.DataFrame({"a_b": [0.1, 0.9], "c": [0.5, 0.4]}, index=["x_y", "z"]), title=title,
                                cbar_label="Share")
    _, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 1], [0, 1], label="rising_line")
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return [heat, ax]


def test_save_figure_crops_as_savefig_would_and_is_byte_stable(tmp_path, monkeypatch):
    saved = matplotlib.figure.Figure.savefig
    tight = {}

    def savefig(fig, fname, **kw):  # what matplotlib's own tight crop gives for the same figure, just before
        suffix = str(fname).rsplit(".", 1)[1]
        buf = io.BytesIO()
        saved(fig, buf, format=suffix, dpi=kw.get("dpi"), metadata=kw["metadata"], bbox_inches="tight", pad_inches=0.12)
        tight[suffix] = buf.getvalue()
        return saved(fig, fname, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    title = "A title far too long to fit on one line of a figure four inches wide, so it is wrapped onto more lines"
    for i, ax in enumerate(_heatmap_and_legend(title)):
        paths = figures.save_figure(ax, tmp_path / f"f{i}", alt_text="x", source="cmlkit · wave 2025w1")
        png, svg = paths["png"].read_bytes(), paths["svg"].read_bytes()
        assert png == tight["png"] and plt.imread(paths["png"]).shape[1] > 400
        size = re.compile(rb'width="([\d.]+)pt" height="([\d.]+)pt"')
        assert size.search(svg).groups() == size.search(tight["svg"]).groups()
        assert json.loads(paths["meta"].read_text())["outside"] == []
    monkeypatch.undo()
    for i, ax in enumerate(_heatmap_and_legend(title)):  # the same figures again: the same bytes
        again = figures.save_figure(ax, tmp_path / f"g{i}", alt_text="x", source="cmlkit · wave 2025w1")
        for kind in ("png", "svg", "meta"):
            assert again[kind].read_bytes() == (tmp_path / f"f{i}").with_suffix(again[kind].suffix).read_bytes()


def test_save_figure_records_text_outside_the_saved_canvas(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.text(1.6, 0.5, "far right").set_in_layout(False)  # left out of the crop, so it falls outside
    meta = json.loads(figures.save_figure(ax, tmp_path / "f", alt_text="x")["meta"].read_text())
    assert meta["outside"] == ["far right"] and "A line" in meta["labels"]


def test_readable_and_instrument_labels(lib):
    labels = figures.instrument_labels(lib)
    assert labels["uo_reading"] == "Reading" and labels["inc_council"] == "Council grant"
    assert labels["services__childrens_activities"] == "Children's activities"
    assert figures.readable("paid_staff: some_paid_hours") == "Paid staff: some paid hours"
    assert figures.readable("cluster: 0") == "Cluster: 0"
    assert figures.readable("opening_hours", labels) == labels["opening_hours"]
    assert figures.readable("South West") == "South West" and figures.readable("20%") == "20%"
    assert figures.readable("statutory") == "Statutory" and figures.readable("CR") == "CR"


def test_heatmap_colour_bar_uses_the_cell_unit(tmp_path):
    ax = figures.plot_heatmap(pd.DataFrame({"a": [0.1, 0.9]}, index=["x", "y"]), title="t", cbar_label="Share")
    cbar = ax.figure.axes[-1]
    ax.figure.canvas.draw()
    assert all(t.get_text().endswith("%") for t in cbar.get_yticklabels() if t.get_text())
    plt.close(ax.figure)


def test_every_plot_kind_has_an_alt_builder():
    import inspect

    kinds = set(re.findall(r'cmlkit_kind = "(\w+)"', inspect.getsource(figures)))
    assert kinds and kinds == set(figures.ALT_BUILDERS)
    with pytest.raises(KeyError):
        figures.alt_text("pie")


def test_alt_builders_state_the_plotted_values():
    est = pd.DataFrame({"domain": ["A", "B", "C"], "estimate": [0.2, 0.6, np.nan], "ci_low": [0.1, 0.5, np.nan],
                        "ci_high": [0.3, 0.7, np.nan], "base_n": [30, 40, 2], "suppressed": [False, False, True]})
    text = figures.alt_text("estimates", est, what="a share", k=5)
    assert text.index("B 60% (50% to 70%, n = 40)") < text.index("A 20%") and "1 suppressed (fewer than 5" in text
    lik = pd.DataFrame({"Bad": [0.1], "Meh": [0.2], "Neutral": [0.3], "Ok": [0.25], "Good": [0.15], "n": [50]}, index=["q1"])
    assert "Item one: 40% agree, 30% disagree (n = 50)" in figures.alt_likert(lik, what="x", labels={"q1": "Item one"},
                                                                             positive="agree", negative="disagree")
    heat = pd.DataFrame({"CR": [0.5], "ICL": [np.nan]}, index=["Wifi"])
    assert "Wifi: CR 50%, ICL not available" in figures.alt_heatmap(heat, what="w", rows="services", columns="types")
    mix = pd.DataFrame({"Council": [0.7], "Other": [0.01]}, index=["CR"])
    assert "CR: Council 70%" in figures.alt_stacked_shares(mix, what="income") and "Other 1%" not in figures.alt_stacked_shares(mix, what="income")


def test_balance_alt_text_names_the_draw_when_counts_are_given():
    bal = pd.DataFrame({"variable": ["region", "type"], "category": ["London", "ICL"], "std_diff": [0.1, -0.4]})
    plain = figures.alt_balance(bal)
    named = figures.alt_balance(bal, n_sample=20, n_population=310)
    assert "between the sample and the population for 2 variables" in plain
    assert "between the 20 selected libraries and the 310 eligible libraries for 2 variables" in named
    assert named.endswith("1 lie within ±0.25. Largest: type ICL -0.40.")
