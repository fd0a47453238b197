"""Build the static documentation site: every notebook in nbs/ (the stages and the library's chapters) and the
executed notebooks of the published cpu run (figures/notebooks/), as HTML pages with an index, offline.

    python docs/build_site.py [--out _docs]      (make docs)

nbconvert renders the notebooks as Jupyter and GitHub show them, outputs included; it comes with the notebooks
extra already and needs no network. nbdev's own site needs Quarto, which is not a PyPI package.
"""
import argparse, html, json
from pathlib import Path
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def title(notebook: Path) -> tuple[str, str]:
    "The notebook's title and one-line summary, from its first markdown cell (`# Title` and `> summary`)."
    cells = json.loads(notebook.read_text())["cells"]
    lines = "".join(cells[0]["source"]).splitlines() if cells and cells[0]["cell_type"] == "markdown" else []
    name = next((l[2:] for l in lines if l.startswith("# ")), notebook.stem)
    return name, next((l[2:] for l in lines if l.startswith("> ")), "")


def render(notebooks: list[Path], out: Path) -> list[tuple[Path, str, str]]:
    "Write each notebook as out/<name>.html; return (page, title, summary) for the index."
    exporter, pages = HTMLExporter(template_name="lab"), []
    out.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        body, _ = exporter.from_filename(str(nb))
        (out / f"{nb.stem}.html").write_text(body, encoding="utf-8")
        pages.append((out / f"{nb.stem}.html", *title(nb)))
    return pages


def index(sections: dict, out: Path) -> Path:
    "The index page: a list of links per section."
    parts = ["<!doctype html><meta charset='utf-8'><title>polypersona</title>",
             "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}li{margin:.3em 0}</style>",
             "<h1>polypersona</h1><p>The notebooks of the PolyPersona companion, rendered from the repository.</p>"]
    for heading, pages in sections.items():
        parts.append(f"<h2>{html.escape(heading)}</h2><ul>")
        parts += [f"<li><a href='{p.relative_to(out)}'>{html.escape(t)}</a> {html.escape(s)}</li>" for p, t, s in pages]
        parts.append("</ul>")
    (out / "index.html").write_text("\n".join(parts) + "\n", encoding="utf-8")
    return out / "index.html"


def build(out: Path, nbs: Path = ROOT / "nbs", executed: Path = ROOT / "figures" / "notebooks") -> Path:
    "The site in `out`: the notebooks of `nbs`, and the executed ones of `executed` where there are any."
    sections = {"Stages and chapters (the source, as the library is exported from it)":
                render(sorted(nbs.glob("*.ipynb")), out)}
    ran = sorted(executed.glob("*.ipynb"))
    if ran: sections["The cpu run, executed (outputs, tables and figures)"] = render(ran, out / "run")
    return index(sections, out)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "_docs"), help="the site's folder (default: _docs)")
    print(f"the site is at {build(Path(p.parse_args().out))}")
