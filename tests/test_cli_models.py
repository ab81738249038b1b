"""`genlab models` and the CLI's error contract (exit codes, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_runner import run_cli


def test_models_lists_every_role_with_availability(capsys, tiny_env):
    code, out, _ = run_cli(["models", "--json"], capsys)
    assert code == 0
    rows = {r["role"]: r for r in json.loads(out)["roles"]}
    assert set(rows) == {"text", "chat", "summary", "zero_shot", "few_shot", "image", "music", "embedding"}
    assert all(r["available"] for r in rows.values())
    assert rows["summary"]["detail"].startswith("seq2seq on cpu")


def test_the_image_role_without_its_extra_is_unavailable_and_names_it(capsys, tiny_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # what a `pip install genlab` without [image] has
    code, out, _ = run_cli(["models", "--json"], capsys)
    assert code == 0
    rows = {r["role"]: r for r in json.loads(out)["roles"]}
    assert rows["image"]["available"] is False and rows["image"]["detail"] == "the diffusers library is not installed"
    assert rows["image"]["fix"] == 'pip install "genlab[image]"'
    assert all(r["available"] for role, r in rows.items() if role != "image")


def test_models_load_reports_what_was_loaded(capsys, tiny_env):
    code, out, _ = run_cli(["models", "--load", "summary", "--json"], capsys)
    assert code == 0
    (loaded,) = json.loads(out)["loaded"]
    assert loaded["kind"] == "seq2seq" and loaded["bytes"] > 0


@pytest.mark.parametrize(
    ("env", "args", "needle"),
    [
        ({"GENLAB_SUMMARY_MODEL": "/definitely/not/here"}, ["models", "--load", "summary"], "no such folder"),
        ({"GENLAB_MUSIC_MODEL": "nobody/no-such-model"}, ["models", "--load", "music"], "not in the local Hugging Face cache"),
        ({"GENLAB_DEVICE": "tpu"}, ["models"], "GENLAB_DEVICE"),
        ({}, ["models", "--load", "video"], "roles are"),
        ({}, ["no-such-command"], "No such command"),
        ({}, ["models", "--no-such-option"], "No such option"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, monkeypatch, env, args, needle):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli(list(args), capsys)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_a_real_process_exits_2_without_traceback(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path), "GENLAB_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "genlab.cli", "models", "--load", "image"],
        capture_output=True,
        text=True,
        env={**env, "GENLAB_IMAGE_MODEL": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("genlab: error: image model") and "Traceback" not in proc.stderr


def test_unexpected_errors_exit_1_and_debug_shows_the_traceback(capsys, monkeypatch):
    import genlab.models.status as status

    def boom():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(status, "role_statuses", boom)
    code, _, err = run_cli(["models"], capsys)
    assert code == 1 and "disk on fire" in err and "--debug" in err and "Traceback" not in err
    code, _, err = run_cli(["--debug", "models"], capsys)
    assert code == 1 and "Traceback" in err


# --- per-role backends, full ids, fixes, servers, downloads ------------------------------------


def test_pipe_output_keeps_full_ids_and_names_the_fix(capsys, tiny_env, tmp_path, monkeypatch):
    import shutil

    long_folder = tmp_path / ("a-folder-with-a-long-name-" * 4) / "tiny-summarizer-model"
    shutil.copytree(tiny_env.t5, long_folder)
    monkeypatch.setenv("GENLAB_SUMMARY_MODEL", str(long_folder))
    monkeypatch.setenv("GENLAB_IMAGE_MODEL", "someone/not-cached-diffusion-model")
    code, out, err = run_cli(["models"], capsys)
    assert code == 0, err
    assert str(long_folder) in out  # not cut to the terminal width
    image = [line for line in out.splitlines() if line.startswith("image\t")][0]
    assert "someone/not-cached-diffusion-model" in image and "\tno\t" in image
    assert "fix: genlab models --download image" in out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_role_that_is_down_is_named_and_check_exits_2(capsys, tiny_env, monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    monkeypatch.setenv("GENLAB_CHAT_MODEL", "openai:qwen")
    monkeypatch.setenv("GENLAB_OPENAI_BASE_URL", url)
    code, out, _ = run_cli(["models", "--json"], capsys)
    assert code == 0
    chat = {r["role"]: r for r in json.loads(out)["roles"]}["chat"]
    assert (chat["backend"], chat["where"], chat["available"]) == ("openai", url, False)
    assert f"server down: {url}/models" in chat["detail"] and "GENLAB_OPENAI_BASE_URL" in chat["fix"]
    code, _, err = run_cli(["models", "--check"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "chat model's server does not answer" in err and url in err


def test_a_server_that_answers_is_available(capsys, tiny_env, monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Models(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = b'{"object": "list", "data": [{"id": "qwen"}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        monkeypatch.setenv("GENLAB_CHAT_MODEL", "openai:qwen")
        monkeypatch.setenv("GENLAB_TEXT_MODEL", "openai:qwen")
        monkeypatch.setenv("GENLAB_OPENAI_BASE_URL", url)
        code, out, err = run_cli(["models", "--check", "--json"], capsys)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert code == 0, err
    rows = {r["role"]: r for r in json.loads(out)["roles"]}
    assert rows["chat"]["available"] and rows["text"]["available"]
    assert seen == ["/v1/models"]  # one request per URL, not one per role


def test_download_offline_is_one_line(capsys, monkeypatch):
    code, out, err = run_cli(["models", "--download", "image"], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "HF_HUB_OFFLINE is set" in err and "stable-diffusion-v1-5/stable-diffusion-v1-5" in err


def test_download_shows_sizes_first_then_fetches_each_model_once(capsys, monkeypatch):
    """The hub is replaced (no network here): a fake HfApi and snapshot_download record the calls."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub import constants

    calls = []

    class FakeApi:
        def model_info(self, repo_id, files_metadata=False, timeout=None):
            calls.append(("info", repo_id, files_metadata))
            return SimpleNamespace(siblings=[SimpleNamespace(size=1_500_000_000), SimpleNamespace(size=500_000_000)])

    def fake_snapshot(repo_id):
        calls.append(("fetch", repo_id))
        return f"/cache/{repo_id}"

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    code, out, err = run_cli(["models", "--download", "text", "chat", "music"], capsys)
    assert code == 0, err
    # text and chat share Qwen2.5: one fetch; sizes of all before the first fetch
    assert calls == [
        ("info", "Qwen/Qwen2.5-1.5B-Instruct", True),
        ("info", "facebook/musicgen-small", True),
        ("fetch", "Qwen/Qwen2.5-1.5B-Instruct"),
        ("fetch", "facebook/musicgen-small"),
    ]
    assert "text, chat: Qwen/Qwen2.5-1.5B-Instruct (2.0 GB)" in err and "4.0 GB in all" in err
    assert "/cache/facebook/musicgen-small" in out
