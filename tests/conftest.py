"Shared helpers: the `polypersona` command of this environment, one tiny data set built once, the replication's data."
import os, signal, subprocess, sys, tempfile, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
REPLICATION = ROOT.parent / "shared" / "research" / "data" / "Polypersona_Replication"
CLI = Path(sys.executable).parent / "polypersona"
TINY = ROOT / "tests" / "tiny.yaml"
STOP_HOOK = ROOT / "tests" / "stop_at"  # sitecustomize.py: a process that freezes itself at a given line of a log


def kill_at(log, lines: int, *args, env=None) -> None:
    "Run the `polypersona` command until its answer log `log` has `lines` lines, then kill it and all it started."
    env = dict(env or os.environ)
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(STOP_HOOK), env.get("PYTHONPATH")])),
               POLYPERSONA_STOP_AT=f"{log}:{lines}")
    errors = tempfile.TemporaryFile("w+")  # what the command said, for the message if it ends too soon
    proc = subprocess.Popen([str(CLI), *map(str, args)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=errors)
    marker = Path(f"{log}.stopped")
    # the writer freezes itself there, so the moment of the kill is the log's line, not this loop's
    deadline = time.time() + 1800  # a guard against a hung command, far beyond any run it is used for
    while not marker.exists():
        if proc.poll() is not None:
            errors.seek(0)
            said = errors.read()[-2000:]
            raise AssertionError(f"`polypersona {args[0]}` ended before {log} had {lines} lines: {said}")
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"{log} never had {lines} lines")
        time.sleep(0.2)
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the writer (a notebook's kernel runs in a session of its own)
    os.killpg(proc.pid, signal.SIGKILL)  # and the command with everything else it started
    proc.wait()
    marker.unlink()


def run_cli(*args, cwd=None):
    "Run the installed `polypersona` command; return the completed process (text output)."
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def replication():
    "The public replication's data folder; tests that need it skip where it is absent (a user's clone)."
    if not REPLICATION.is_dir(): pytest.skip(f"needs the replication data at {REPLICATION} "
                                             "(present in the project's CI, not in a user's clone)")
    return REPLICATION


def ok(*args, env=None):
    "Run the installed command, which must succeed; return the completed process."
    res = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def cli_error(capsys, *args) -> str:
    "Run the command line in this process (no start-up cost); it must end as a user error: return its message."
    from polypersona.cli import main
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory):
    "A run of the tiny profile built once, uninterrupted, by the embedded teacher: what other builds must equal."
    run = tmp_path_factory.mktemp("tiny") / "run"
    ok("personas", "--run", run, "--profile", TINY)
    ok("plan", "--run", run)
    ok("build-dataset", "--run", run)
    return run
