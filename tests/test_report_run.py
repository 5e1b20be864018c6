"""One real run of pipelines/wave.yml on the demo wave, then what a reader gets from it (slow).

The report and its index, every figure's layout record (no text outside the canvas, no variable
name as a label, a source line, alt text), every published share interval inside [0, 1], the
labelled exports read back with pyreadstat and, when ``Rscript`` is present, re-estimated in R
from the ``.sav`` and ``.dta`` files, the report rendered by headless Chromium, and the privacy scan
of the report, codebook and labelled exports.
"""
import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmlkit import estimates as E
from cmlkit import figures, findings, indicators, labelled, tables
from cmlkit import share_intervals as intervals
from cmlkit.instrument import load_instrument

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wave_run")]   # the worker that holds the shared run

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def run(finished_run):
    """The session's shared run of the demo wave (conftest.finished_run); these tests only read it."""
    return finished_run


def test_report_and_index_are_the_last_step(run):
    record = json.loads((run / "run.json").read_text())
    assert record["steps"][-1]["name"] == "report" and record["steps"][-1]["status"] == "ok"
    assert record["products"]["run_report"]["path"] == "report.html"
    page = (run / "report.html").read_text()
    for title in ("Key findings", "Method", "Services", "Volunteers", "Finances and sustainability", "Governance models",
                  "Case studies, in aggregate", "Libraries at risk, in aggregate", "Data quality"):
        assert f">{title}</h2>" in page, title
    assert page.index("Key findings") < page.index(">Method<") < page.index(">Services<") < page.index(">Data quality<")
    assert re.search(r"Council share of income: \d+(\.\d)?% across community libraries \(95% interval \d", page)
    assert "design degrees of freedom" in page and "k = 5" in page and "Responses in" in page
    assert page.count("<img ") == len(list((run / "figures").glob("*.svg")))
    assert record["run_id"] not in page and not re.search(r"20\d\d-\d\d-\d\dT\d\d:", page)  # nothing time-dependent
    index = (run / "README.md").read_text()
    assert "Open `report.html` first" in index and "`private/`" in index and "`tables/`" in index


def test_every_figure_fits_its_canvas_with_readable_labels(run, root):
    names = {q["canonical"] for ins in ("cml_library", "cml_volunteer") for q in load_instrument(ins, "2025w1", root=root).questions}
    svgs = sorted((run / "figures").glob("*.svg"))
    assert len(svgs) >= 15
    for svg in svgs:
        meta = json.loads(svg.with_suffix(".json").read_text())
        assert meta["outside"] == [] and meta["titles_wider_than_figure"] == [], (svg.stem, meta)
        raw = [t for t in meta["labels"] if figures.RAW_NAME.search(t) or t in names]
        assert not raw, (svg.stem, raw)
        assert meta["source"].startswith("cmlkit · wave 2025w1 · "), svg.stem
        assert len(svg.with_suffix(".txt").read_text().strip()) > 40, svg.stem
    assert not (run / "figures" / "reserves_by_region.svg").exists()  # it shows confidence: named for what it shows


def test_every_published_share_interval_lies_in_0_1(run):
    table = pd.read_csv(run / "tables" / "findings" / "findings.csv")
    spec_units = intervals.units(indicators.load_spec())
    assert set(table["unit"]) <= set(intervals.UNITS)
    assert (table.loc[table["indicator"].isin(spec_units), "unit"] == table["indicator"].map(spec_units).dropna()).all()
    shares = table.loc[table["unit"].isin(intervals.BOUNDED_UNITS) & ~table["suppressed"]]
    assert len(shares) > 50 and {"service_breadth", "council_dependency", "confident_3yr"} <= set(shares["indicator"])
    assert ((shares["ci_low"] >= 0) & (shares["ci_high"] <= 1)).all()
    assert ((shares["ci_low"] <= shares["estimate"]) & (shares["estimate"] <= shares["ci_high"])).all()
    assert intervals.check_bounds(table.loc[~table["suppressed"]]).empty
    risk = pd.read_csv(run / "tables" / "risk" / "at_risk_share.csv")
    shown = risk.loc[~risk["suppressed"]]
    assert ((shown["ci_low"] >= 0) & (shown["ci_high"] <= 1)).all()


def test_labelled_exports_match_the_instrument_and_codebook(run, root):
    inst = load_instrument("cml_library", "2025w1", root=root)
    clean = pd.read_parquet(run / "data" / "cml_library" / "clean.parquet")
    book = pd.read_excel(run / "tables" / "codebook" / "codebook.xlsx", sheet_name=None)
    assert list(book["cml_library_clean"]["variable"]) == list(clean.columns)
    assert list(book["cml_volunteer_clean"]["variable"]) == list(pd.read_parquet(run / "data" / "cml_volunteer" / "clean.parquet").columns)
    names = labelled.stata_names(clean.columns)
    for suffix, rename in ((".sav", {}), (".dta", names)):
        data, meta = labelled.read_back(run / "data" / "labelled" / f"cml_library_clean{suffix}")
        assert len(data) == len(clean)
        col_labels = dict(zip(meta.column_names, meta.column_labels))
        for q in inst.questions:
            if q["personal"] or q["canonical"] not in clean:
                continue
            name = rename.get(q["canonical"], q["canonical"])
            assert col_labels[name] == q["text"][:80] or col_labels[name] == labelled._clip(q["text"], 80), name
            if q["type"] == "select_one":
                assert sorted(meta.variable_value_labels[name].values()) == sorted(c["label"] for c in inst.choices(q["id"]))
                decoded = data[name].map(meta.variable_value_labels[name])
                expected = clean[q["canonical"]].astype("string").map({c["name"]: c["label"] for c in inst.choices(q["id"])})
                assert decoded.fillna("").tolist() == expected.fillna("").tolist(), name
        assert not set(inst.personal_ids) & set(data.columns)


def _python_headline(run, column):
    weighted = tables.read_table(run / "data" / "cml_library" / "weighted.parquet")
    inst = load_instrument("cml_library", "2025w1")
    values = indicators.compute(weighted, indicators.load_spec(), inst=inst, wave_year=2025)
    design = findings.design_of(weighted, data=values.drop(columns=[c for c in values if c in weighted]))
    return E.mean(design, column)


def test_r_reproduces_a_headline_from_the_labelled_files(run):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed: the R re-estimate from the labelled files is not run")
    if subprocess.run(["Rscript", "-e", "library(survey); library(haven)"], capture_output=True).returncode != 0:
        pytest.skip("R packages survey and haven not installed")
    spec = json.loads((run / "data" / "labelled" / "design.json").read_text())
    col = spec["example"]
    row = pd.read_csv(run / "tables" / "findings" / "findings.csv").set_index("finding_id").loc[f"{col}|all|all"]
    ours = _python_headline(run, col)
    lines = []
    for name in (spec["data_files"]["sav"], spec["data_files"]["dta"]):
        out = subprocess.run(["Rscript", "design.R", name], cwd=run / "data" / "labelled", capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
        lines += [line.removeprefix("check: ") for line in out.stdout.splitlines() if line.startswith("check: ")]
    assert len(lines) == 2  # the .sav and the .dta
    for line in lines:
        est, se, lo, hi, df = (float(x) for x in line.split())
        assert est == pytest.approx(row["estimate"], rel=1e-8) and est == pytest.approx(ours["estimate"], rel=1e-9)
        assert se == pytest.approx(ours["se"], rel=1e-6)  # calibration replayed in R: the same SE as cmlkit's
        assert [lo, hi] == pytest.approx([row["ci_low"], row["ci_high"]], rel=1e-6)  # the published logit interval
        assert df == spec["degrees_of_freedom"]


PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="r" src="%s" style="width:1280px;height:900px;border:0"></iframe><pre id="out">pending</pre>
<script>
document.getElementById('r').addEventListener('load', () => {
  const w = document.getElementById('r').contentWindow, d = w.document, imgs = [...d.images];
  const vw = d.documentElement.clientWidth;
  const res = {images: imgs.length, svgs: d.querySelectorAll('svg').length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 40)),
    figures: d.querySelectorAll('figure').length,
    figures_without_alt: [...d.querySelectorAll('figure')].filter(f => !f.querySelector('img[alt]:not([alt=""]), svg[aria-label]')).length,
    imgs_without_alt: imgs.filter(i => !(i.getAttribute('alt') || '').trim()).length,
    viewport: vw, scroll_width: d.documentElement.scrollWidth,
    too_wide: [...d.body.querySelectorAll('*')].filter(e => { const r = e.getBoundingClientRect(); return r.width > vw + 1 || r.right > vw + 1; })
                 .map(e => e.tagName + (e.id ? '#' + e.id : '')).slice(0, 10),
    resources: w.performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))};
  document.getElementById('out').textContent = JSON.stringify(res);
});
</script></body></html>"""


def browser_checks(page: Path, screenshot: Path) -> dict:
    """Render ``page`` in headless Chromium at 1280 px: DOM checks (through a same-folder probe page) and a screenshot."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(PROBE % page.resolve().as_uri(), encoding="utf-8")
        dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={Path(tmp) / 'a'}", "--allow-file-access-from-files",
                              "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=300)
        shot = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={Path(tmp) / 'b'}", "--hide-scrollbars", "--window-size=1280,2400",
                               "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000", f"--screenshot={screenshot}",
                               page.resolve().as_uri()], capture_output=True, text=True, timeout=300)
    m = re.search(r'<pre id="out">(.*?)</pre>', dom.stdout, re.S)
    assert m and shot.returncode == 0, (dom.stderr[-500:], shot.stderr[-500:])
    return json.loads(html.unescape(m.group(1)))


def _chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (.ci/run installs the Debian package 'chromium'; apt-get was not available here)")


def _blank(png: Path) -> bool:
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))[..., :3]
    return float((pixels.min(axis=2) < 0.9).mean()) < 0.02 or float(pixels.std()) < 0.02


def test_browser_checks_can_fail(tmp_path):
    """The same checks on a page that breaks every rule report each problem."""
    _chromium()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><div style="width:2000px">wide</div><img src="https://example.org/x.png" alt="">'
                   '<figure><img src="data:image/png;base64,AAAA" alt=""></figure></body></html>')
    res = browser_checks(bad, tmp_path / "bad.png")
    assert res["broken"] and res["imgs_without_alt"] == 2 and res["figures_without_alt"] == 1
    assert res["too_wide"] and res["scroll_width"] > res["viewport"] and res["resources"] == ["https://example.org/x.png"]
    assert _blank(tmp_path / "bad.png")


def test_report_renders_in_chromium(run, tmp_path):
    _chromium()
    page = run / "report.html"
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""", text, re.I)
    shot = tmp_path / "report.png"
    res = browser_checks(page, shot)
    assert res["images"] == res["figures"] >= 15 and res["broken"] == []
    assert res["figures_without_alt"] == 0 and res["imgs_without_alt"] == 0
    assert res["too_wide"] == [] and res["scroll_width"] <= res["viewport"]
    assert res["resources"] == []
    assert shot.stat().st_size > 20_000 and not _blank(shot)


def test_no_contact_details_in_report_codebook_or_labelled_exports(run, demo_wave):
    out, _ = demo_wave
    truth = pd.read_csv(out / "truth" / "cml_library_clean.csv")
    needles = set(truth["contact_email"]) | set(truth["contact_phone"]) | set(truth["contact_name"])
    injected = pd.concat([pd.read_csv(out / "truth" / f"{i}_errors.csv") for i in ("cml_library", "cml_volunteer")])
    needles |= set(injected.loc[injected["kind"] == "pii_in_text", "injected_value"].str.extractall(
        r"([\w.+-]+@[\w.-]+\.\w+|07700 900\d{3}|01632 960\d{3})")[0])
    assert len(needles) > 100
    texts = {"report.html": (run / "report.html").read_text(), "README.md": (run / "README.md").read_text(),
             "codebook.md": (run / "tables" / "codebook" / "codebook.md").read_text(),
             "codebook.xlsx": pd.concat(pd.read_excel(run / "tables" / "codebook" / "codebook.xlsx", sheet_name=None)).to_csv()}
    for path in sorted((run / "data" / "labelled").glob("*.sav")) + sorted((run / "data" / "labelled").glob("*.dta")):
        data, meta = labelled.read_back(path)
        texts[path.name] = data.to_csv() + json.dumps(meta.variable_value_labels, default=str) + " ".join(meta.column_labels)
    assert len(texts) == 10
    for name, text in texts.items():
        found = [n for n in needles if n in text]
        assert not found, (name, found[:3])
    html_text = texts["report.html"]
    assert "contact_email" not in html_text and "@" not in re.sub(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", "", html_text)
