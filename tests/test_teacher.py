"The teacher end to end: the embedded model offline, a real local server, import of the replication's data, resume."
import json, os, subprocess
import pytest
from conftest import TINY, kill_at, ok, run_cli


def planned(run):
    ok("personas", "--run", run, "--profile", TINY)
    ok("plan", "--run", run)
    return [json.loads(l) for l in (run / "plan.jsonl").read_text().splitlines()]


def check_dataset(run, plan, imported=False):
    "Every planned pair is answered or failed exactly once; the split files, the datasets folder and the card agree."
    from datasets import load_dataset, load_from_disk
    ds = run / "dataset"
    answers = [json.loads(l) for l in (ds / "answers.jsonl").read_text().splitlines()]
    failed = [json.loads(l) for l in (ds / "failed.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in answers + failed]
    assert sorted(ids) == sorted(r["id"] for r in plan)
    stats = json.loads((ds / "stats.json").read_text())
    split_rows = {s: [json.loads(l) for l in (ds / f"{s}.jsonl").read_text().splitlines()]
                  for s in ("train", "validation", "test")}
    assert sum(map(len, split_rows.values())) == stats["records"] == len(answers)
    ids = {s: [r["id"] for r in rows] for s, rows in split_rows.items() if rows}  # an empty split is left out
    assert {s: d["id"] for s, d in load_from_disk(str(ds / "hf")).items()} == ids
    assert {s: d["id"] for s, d in load_dataset(str(ds)).items()} == ids  # as the hub would load the folder
    for rows in split_rows.values():
        for r in rows:
            assert {"id", "persona_id", "domain", "question_type", "messages", "reference"} <= set(r)
            assert r["messages"][-1] == {"role": "assistant", "content": r["reference"]}
            # a teacher's closed answer has a choice
            if r["options"] and not imported: assert r["choice"] in r["options"]
    card = (ds / "README.md").read_text()
    assert f"{stats['records']} records" in card and stats["content_hash"] in card
    return stats


def test_local_teacher_resumes_after_a_kill(tmp_path, tiny_build):
    "Killed mid-build and resumed, the data set equals an uninterrupted build's (same seed, same records)."
    run = tmp_path / "run"
    plan = planned(run)
    log = run / "dataset" / "answers.jsonl"
    kill_at(log, 1, "build-dataset", "--run", run)  # mid-build: the first chunk is saved, the rest is not
    before = log.read_text()
    assert 0 < before.count("\n") < len(plan)
    assert not (run / "dataset" / "stats.json").exists()
    ok("build-dataset", "--run", run)
    assert log.read_text().startswith(before)  # nothing redone or lost
    stats = check_dataset(run, plan)
    assert stats["teacher"] == "local:smollm2-135m"
    assert stats["content_hash"] == json.loads((tiny_build / "dataset" / "stats.json").read_text())["content_hash"]
    first = (run / "dataset" / "train.jsonl").read_bytes()
    ok("build-dataset", "--run", run)  # a finished build: nothing to ask, the same files
    assert (run / "dataset" / "train.jsonl").read_bytes() == first


def test_server_teacher_end_to_end(tmp_path):
    from polypersona.backends import local_server
    run = tmp_path / "run"
    plan = planned(run)
    secret = "sk-test-do-not-write-me-anywhere"
    env = {**os.environ, "OPENAI_API_KEY": secret}
    with local_server("smollm2-135m", log_path=tmp_path / "server.log") as (base_url, model):
        with_login = base_url.replace("http://", "http://reader:pw-in-the-url@")  # used for the requests, never stored
        res = ok("build-dataset", "--run", run, "--teacher", "openai", "--base-url", with_login,
                 "--server-model", model,
                 env=env)
    stats = check_dataset(run, plan)
    assert stats["teacher"].startswith("openai:")
    assert stats["teacher_settings"]["base_url"] == base_url.replace("http://", "http://***@")
    assert "pw-in-the-url" not in res.stdout + res.stderr
    for f in run.rglob("*"):
        if f.is_file(): assert secret.encode() not in f.read_bytes() and b"pw-in-the-url" not in f.read_bytes(), f
    # read back from the run, the address has no credentials: a server backend made from it asks for it again
    from polypersona.backends import OpenAIBackend
    from polypersona.core import PolyPersonaError, open_run
    with pytest.raises(PolyPersonaError, match="give the full address again"):
        OpenAIBackend(open_run(run)["teacher"]["base_url"], model)
    # the server is gone now: a new build fails with one line that says so
    gone = tmp_path / "gone"
    refused = run_cli("build-dataset", "--run", gone, "--profile", TINY, "--teacher", "openai", "--base-url", base_url,
                      "--model", model)
    assert refused.returncode == 2
    assert not gone.exists()  # personas and plan first; the refused command left nothing behind
    ok("personas", "--run", gone, "--profile", TINY); ok("plan", "--run", gone)
    res = run_cli("build-dataset", "--run", gone, "--teacher", "openai", "--base-url", base_url,
                  "--server-model", model)
    last = res.stderr.strip().splitlines()[-1]  # after the progress bar
    assert res.returncode == 2 and last.startswith("polypersona: error: cannot reach the server")
    assert "Traceback" not in res.stderr


def test_import_of_the_replication(tmp_path, replication):
    run = tmp_path / "run"
    ok("build-dataset", "--run", run, "--teacher", f"import:{replication / 'generated_data_2'}")
    stats = check_dataset(run, [json.loads(l) for l in (run / "plan.jsonl").read_text().splitlines()], imported=True)
    assert stats["splits"] == {"train": 2854, "validation": 356, "test": 358} and stats["failed"] == 0
    assert stats["duplicates"] == {"rows": 3568, "ids_marked_dup": 589, "repeated_persona_question_answer": 646,
                                   "repeated_persona_question": 1325}
    assert "589 have ids marked `-dup`" in (run / "dataset" / "README.md").read_text()
    assert stats["import_checks"]["empty"] == 11
    assert len((run / "personas.jsonl").read_text().splitlines()) == 433


def test_bad_teacher_input(tmp_path):
    def error(*args):
        res = run_cli(*args)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
        return res.stderr
    assert "is not understood" in error("build-dataset", "--run", tmp_path / "a", "--teacher", "gpt4")
    assert "plan.jsonl does not exist" in error("build-dataset", "--run", tmp_path / "b")
    assert "does not exist" in error("build-dataset", "--run", tmp_path / "c",
                                     "--teacher", f"import:{tmp_path / 'nowhere'}")
    ok("personas", "--run", tmp_path / "d", "--profile", TINY)
    assert "import into a new --run" in error("build-dataset", "--run", tmp_path / "d",
                                              "--teacher", f"import:{tmp_path}")
    ok("plan", "--run", tmp_path / "d")
    assert "unknown model 'gpt-9'" in error("build-dataset", "--run", tmp_path / "d", "--teacher", "local:gpt-9")


def test_two_processes_convert_the_embedded_model_once(tmp_path):
    "The GGUF is converted once into a fresh cache, under a lock, even when two processes ask at the same time."
    import sys
    code = "from polypersona.models import smollm2_folder; print(smollm2_folder())"
    env = {**os.environ, "POLYPERSONA_CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    folder = tmp_path / "models" / "smollm2-135m"
    assert {o[0].strip() for o in outs} == {str(folder)}
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name.endswith(".tmp")] == []


def _flaky_server(statuses, reply=None):
    "A chat-completions server on 127.0.0.1 that answers with `statuses` in turn (then 200, or `reply`: body, type)."
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    seen = []
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            status = statuses[len(seen)] if len(seen) < len(statuses) else 200
            seen.append(status)
            message = {"role": "assistant", "content": "Yes. I recycle."}
            answer = {"index": 0, "finish_reason": "stop", "message": message}
            body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [answer]}
                              if status == 200 else {"error": {"message": "try later"}}).encode()
            kind = "application/json"
            if status == 200 and reply: body, kind = reply
            self.send_response(status); self.send_header("Content-Type", kind); self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        def log_message(self, *args): pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/v1", seen


def test_server_backend_retries_rate_limits_and_outages():
    from polypersona.backends import OpenAIBackend, Request
    from polypersona.core import PolyPersonaError
    req = Request([{"role": "user", "content": "Do you recycle?"}], ["Yes", "No"], 16)
    server, url, seen = _flaky_server([429, 503])
    try: assert OpenAIBackend(url, "m", http_retries=3).answer([req])[0].text == "Yes. I recycle."
    finally: server.shutdown()
    assert seen == [429, 503, 200]
    server, url, seen = _flaky_server([500] * 10)
    try:
        with pytest.raises(PolyPersonaError, match="answered HTTP 500"):
            OpenAIBackend(url, "m", http_retries=2).answer([req])
    finally: server.shutdown()
    assert seen == [500, 500, 500]  # the first try and two retries, then a clear error


BAD_REPLIES = [  # (what a broken server or proxy answers with HTTP 200, the line's telling part)
    ((b"<html>502 proxy error</html>", "text/html"),
     "did not answer with a chat completion (JSON); is --base-url an OpenAI-compatible server"),
    ((b"{not json", "application/json"), "did not answer with a chat completion (JSON)"),
    ((json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}).encode(),
      "application/json"), "answered with no choices"),
]


@pytest.mark.parametrize("reply,expected", BAD_REPLIES)
def test_server_that_answers_nonsense(reply, expected):
    from polypersona.backends import OpenAIBackend, Request
    from polypersona.core import PolyPersonaError
    server, url, _ = _flaky_server([], reply)
    try:
        ask = Request([{"role": "user", "content": "Do you recycle?"}], [], 16)
        with pytest.raises(PolyPersonaError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            OpenAIBackend(url, "m", http_retries=0).answer([ask])
    finally: server.shutdown()
