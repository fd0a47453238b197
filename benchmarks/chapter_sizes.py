"""How big the chapters are: per notebook, its code cells, their median length, the cells over 40 lines, the exported
cells that define three or more functions or classes, and the code lines over 120 characters; then each module's
length. Run: python benchmarks/chapter_sizes.py"""
import json, re, statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def code_cells(nb: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]


def definitions(src: str) -> int:
    return len(re.findall(r"^(?:def|class) ", src, re.M))


def main():
    rows, every = [], []
    for nb in sorted((ROOT / "nbs").glob("*.ipynb")):
        cells = code_cells(nb)
        sizes = [len(c.splitlines()) for c in cells]
        every += sizes
        rows.append((nb.stem, len(cells), statistics.median(sizes), sum(s > 40 for s in sizes),
                     sum(c.startswith("#| export") and definitions(c) >= 3 for c in cells),
                     sum(len(line) > 120 for c in cells for line in c.splitlines())))
    print(f"{'notebook':<24}{'cells':>6}{'median':>8}{'>40':>5}{'3+ defs':>9}{'>120 chars':>12}")
    for r in rows: print(f"{r[0]:<24}{r[1]:>6}{r[2]:>8}{r[3]:>5}{r[4]:>9}{r[5]:>12}")
    print(f"{'all':<24}{len(every):>6}{statistics.median(every):>8}{sum(r[3] for r in rows):>5}"
          f"{sum(r[4] for r in rows):>9}{sum(r[5] for r in rows):>12}")
    modules = [p for p in sorted((ROOT / "polypersona").glob("*.py")) if not p.stem.startswith("_")]
    print("\nmodule lines:", ", ".join(f"{p.stem} {len(p.read_text().splitlines())}" for p in modules))


if __name__ == "__main__": main()
