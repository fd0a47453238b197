"""Python loads this at start-up in the processes that a test means to kill (it is put on their PYTHONPATH).

With POLYPERSONA_STOP_AT=<log>:<lines>, the process freezes itself (SIGSTOP) right after an append brings the answer
log <log> to <lines> lines, having written its pid to <log>.stopped: the test then kills it at exactly that point,
not at whatever moment a polling loop happened to notice."""
import os

if os.environ.get("POLYPERSONA_STOP_AT"):
    import signal
    from pathlib import Path
    import polypersona.core as core

    log, lines = os.environ["POLYPERSONA_STOP_AT"].rsplit(":", 1)
    append = core.append_jsonl

    def append_then_stop(path, rows):
        append(path, rows)
        if Path(path).resolve() == Path(log).resolve() and Path(path).read_text().count("\n") >= int(lines):
            Path(f"{log}.stopping").write_text(str(os.getpid()))
            Path(f"{log}.stopping").rename(f"{log}.stopped")  # whole, or not there
            os.kill(os.getpid(), signal.SIGSTOP)

    core.append_jsonl = append_then_stop  # before any stage module imports it by name
