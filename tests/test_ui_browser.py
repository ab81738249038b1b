"""`genlab ui` in a real browser: the server as a subprocess, Debian's Chromium driven by Playwright.

One server for the module: `genlab ui` on a free 127.0.0.1 port, every role on its tiny model,
the chat model a scripted tool-calling one (GENLAB_CHAT_FACTORY) over the real agent and tools.
With UI_SCREENSHOTS=1 each tab is saved to docs/ui-<tab>.png (for the README).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.server]

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[1] / "docs"
# Not a GENLAB_ variable: conftest clears those so a developer's settings cannot leak in.
SCREENSHOTS = os.environ.get("UI_SCREENSHOTS") == "1"
START_TIMEOUT_S = 120
TIMEOUT_MS = 60_000

FACTORY = textwrap.dedent(
    '''
    """Scripted chat model for the UI tests (GENLAB_CHAT_FACTORY=ui_factory:make)."""
    from langchain_core.messages import HumanMessage, ToolMessage
    from genlab.testing import ScriptedChatModel, last_tool_result, tool_call_message

    def policy(messages):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            if last.name == "generate_image":
                return "Here is your picture."
            first_passage = last_tool_result(messages).splitlines()[0]  # "[1] title > section (source)"
            return "From the course notes [1]: " + first_passage.split("] ", 1)[1]
        text = last.text
        if "course" in text:
            return tool_call_message("search_course", query=text)
        if "draw" in text:
            return tool_call_message("generate_image", prompt=text, width=64, height=64, steps=2, seed=3)
        if "slow" in text:
            return "this answer takes a long time to write " * 60
        heard = sum(isinstance(m, HumanMessage) for m in messages)
        return f"Echo number {heard}: {text}"

    def make(model=None):
        return ScriptedChatModel(script=[policy], cycle=True, delay=0.05)
    '''
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"genlab ui exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"genlab ui did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def ui_server(tiny_models, session_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running `genlab ui`: its URL and output folder; stopped at the end of the module."""
    folder = tmp_path_factory.mktemp("ui-server")
    (folder / "ui_factory.py").write_text(FACTORY)
    outputs = folder / "outputs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENLAB_")}
    env.update(tiny_models.env())
    env.pop("GENLAB_MUSIC_MODEL")  # building the tiny MusicGen costs more than this module checks
    env.update(
        GENLAB_HOME=str(session_home),  # the course index other tests built is reused
        GENLAB_OUTPUT_DIR=str(outputs),
        GENLAB_CHAT_FACTORY="ui_factory:make",
        PYTHONPATH=os.pathsep.join([str(folder), env.get("PYTHONPATH", "")]),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = folder / "server.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "genlab.cli", "ui", "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    try:
        wait_until_up(url, process, log)
        yield {"url": url, "outputs": outputs.resolve(), "log": log, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser(ui_server) -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(browser, ui_server) -> Iterator:
    """One browser session, shared by the module's tests in order (as a learner clicks through)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(ui_server["url"])
    page.get_by_role("textbox", name="Message").wait_for()
    try:
        yield page
    finally:
        context.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        page.wait_for_timeout(800)  # Gradio fades outputs in after an event ends
        page.screenshot(path=str(DOCS / f"ui-{name}.png"), full_page=False)


def expect(locator):
    return playwright_sync.expect(locator)


# Assertions wait as long as actions do: on a loaded 2-core machine a streamed word can take seconds.
playwright_sync.expect.set_options(timeout=TIMEOUT_MS)


def test_ask_answers_with_a_citation_and_its_source(page):
    open_tab(page, "Ask")
    page.get_by_label("Question").fill("How do GANs differ from diffusion models?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator("#ask-answer")
    expect(answer).to_contain_text("[1]", timeout=120_000)
    expect(answer).to_contain_text("GAN")
    sources = page.locator("#ask-sources")
    first = sources.locator("details").first
    expect(first.locator("summary")).to_contain_text(re.compile(r"\[1\] .+\.md"))
    passage = first.locator("pre")
    expect(passage).to_be_hidden()
    first.locator("summary").click()  # the passage opens on expand
    expect(passage).to_be_visible()
    assert len(passage.inner_text()) > 40
    screenshot(page, "ask")


def test_generate_image_shows_the_png_from_the_output_folder(page, ui_server):
    open_tab(page, "Studio")
    open_tab(page, "Image")
    page.locator("#image-prompt textarea").fill("a lighthouse at dusk, watercolor")
    for label, value in (("Width", "64"), ("Height", "64"), ("Steps", "2"), ("Seed", "7")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Generate image").click()
    image = page.locator("#image-gallery img").first
    expect(image).to_be_visible(timeout=120_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") == 64
    served = unquote(image.get_attribute("src"))
    pngs = sorted(ui_server["outputs"].glob("*.png"))
    assert pngs and pngs[-1].name in served
    assert str(ui_server["outputs"]) in served  # served from the output folder itself, not a copy
    expect(page.get_by_text('"a lighthouse at dusk, watercolor"').first).to_be_visible()  # the PNG's metadata
    screenshot(page, "studio")


def test_bad_input_shows_the_error_line_and_the_page_keeps_working(page, ui_server):
    open_tab(page, "Studio")
    open_tab(page, "Image")
    page.get_by_label("Steps", exact=True).fill("0")
    page.get_by_role("button", name="Generate image").click()
    toast = page.get_by_test_id("toast-body")
    expect(toast).to_contain_text("steps: Input should be greater than or equal to 1 (got 0); Denoising steps from 1 to 200")
    assert "Traceback" not in page.content()
    toast.get_by_test_id("toast-close").click()  # it would cover the buttons the next tests click
    before = len(list(ui_server["outputs"].glob("*.png")))
    page.get_by_label("Steps", exact=True).fill("1")
    page.get_by_label("Seed", exact=True).fill("8")
    page.get_by_role("button", name="Generate image").click()
    expect(page.get_by_text("seed 8, 64x64, 1 steps").first).to_be_visible(timeout=60_000)
    assert len(list(ui_server["outputs"].glob("*.png"))) == before + 1


def test_chat_shows_the_search_course_step_the_answer_and_its_sources(page):
    open_tab(page, "Chat")
    box = page.get_by_role("textbox", name="Message")
    box.fill("What does the course say about GANs?")
    box.press("Enter")
    chat = page.locator("#chatbot")
    expect(chat.get_by_text("search_course").first).to_be_visible()
    expect(chat.get_by_text("From the course notes [1]:")).to_be_visible()
    expect(chat.get_by_text("Sources", exact=True)).to_be_visible()
    expect(box).to_have_value("")
    screenshot(page, "chat")
    box.fill("please draw a small red boat")
    box.press("Enter")
    expect(chat.get_by_text("generate_image").first).to_be_visible()
    picture = chat.locator("img[src*='.png']").last
    expect(picture).to_be_visible(timeout=60_000)
    expect(chat.get_by_text("Here is your picture.")).to_be_visible()


def test_stop_cancels_a_turn_and_the_next_one_runs(page):
    open_tab(page, "Chat")
    box = page.get_by_role("textbox", name="Message")
    box.fill("a slow answer please")
    box.press("Enter")
    chat = page.locator("#chatbot")
    expect(chat.get_by_text(re.compile("this answer takes")).first).to_be_visible()
    page.get_by_role("button", name="Stop").click()
    time.sleep(1.0)
    frozen = chat.inner_text()
    time.sleep(1.0)
    assert chat.inner_text() == frozen  # nothing more streams in
    assert frozen.count("this answer takes a long time") < 60
    box.fill("hello after stop")
    box.press("Enter")
    expect(chat.get_by_text(re.compile(r"Echo number \d+: hello after stop"))).to_be_visible()
    expect(chat.get_by_text("(stopped)")).to_be_visible()


def test_a_second_browser_context_gets_its_own_chat_session(browser, page, ui_server):
    first_session = page.locator("#chat-session textarea").input_value()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        other = context.new_page()
        other.goto(ui_server["url"])
        session = other.locator("#chat-session textarea")
        expect(session).not_to_have_value("")
        assert session.input_value() != first_session
        box = other.get_by_role("textbox", name="Message")
        box.fill("hi from another browser")
        box.press("Enter")
        # The first message of its own conversation: nothing of the first browser's is in it.
        expect(other.locator("#chatbot").get_by_text("Echo number 1: hi from another browser")).to_be_visible()
        expect(other.locator("#chatbot").get_by_text("search_course")).to_have_count(0)
    finally:
        context.close()


def test_story_shows_each_attempt_with_its_verdict(page):
    open_tab(page, "Story")
    expect(page.get_by_label("Setting")).to_have_value("enchanted forest")
    # No rewrite: a rewrite prompt quoting the tiny model's long gibberish outgrows its context.
    rewrites = page.locator("#story-rewrites input[type=number]")
    rewrites.fill("0")
    rewrites.press("Enter")
    page.get_by_role("button", name="Write story").click()
    attempts = page.locator("#story-attempts")
    expect(attempts).to_contain_text("Attempt 1:", timeout=90_000)
    expect(attempts).to_contain_text(re.compile("approved|rejected"))
    assert page.locator("#story-approved textarea").input_value()
    screenshot(page, "story")


def test_models_lists_each_role_and_whether_it_is_available(page):
    open_tab(page, "Models")
    table = page.locator("#models-table")
    expect(table).to_contain_text("zero_shot")
    rows = table.get_by_role("row")
    expect(rows.filter(has_text=re.compile(r"^\s*image\b")).first).to_contain_text("yes")
    expect(rows.filter(has_text=re.compile(r"^\s*music\b")).first).to_contain_text("no")  # not configured here
    screenshot(page, "models")


def test_gradio_client_scripts_call_the_named_endpoints(ui_server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(ui_server["url"], verbose=False, download_files=False)
    answer, sources = client.predict("What is a GAN?", 2, "faiss", False, api_name="/ask")
    assert "[1]" in answer and sources.count("<details") == 2
    with pytest.raises(AppError, match=r"steps: Input should be greater than or equal to 1 \(got 0\)"):
        client.predict("a fox", "", 64, 64, 0, 7.5, 1, 1, api_name="/image")


def test_ctrl_c_stops_the_server_cleanly(ui_server):
    """Last in the module: it stops the shared server."""
    process = ui_server["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    log = ui_server["log"].read_text()
    assert "genlab ui running on http://127.0.0.1:" in log
    assert "Traceback" not in log
