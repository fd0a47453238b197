"Shared helpers: the `polypersona` command of this environment and the public replication's data in ../shared."
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
REPLICATION = ROOT.parent / "shared" / "research" / "data" / "Polypersona_Replication"
CLI = Path(sys.executable).parent / "polypersona"


def run_cli(*args, cwd=None):
    "Run the installed `polypersona` command; return the completed process (text output)."
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def replication():
    "The public replication's data folder; tests that need it skip where it is absent (a user's clone)."
    if not REPLICATION.is_dir(): pytest.skip(f"needs the replication data at {REPLICATION} (present in the project's CI, not in a user's clone)")
    return REPLICATION
