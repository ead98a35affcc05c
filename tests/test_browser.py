"""The course as students see it: every lesson, solutions filled in, run in JupyterLab in a real
Chromium driven by Playwright.

For each lesson the test opens the notebook, runs all cells from the Run menu, waits until every cell
has run, and checks that
- no cell shows an error (in the page, and in the notebook as saved from the browser);
- every explorer (mclib.widgets) renders its sliders and figure, and redraws the figure when a slider
  is moved with the keyboard;
- every cell that calls ``plt.show()`` shows a figure, and no image is broken;
- training shows tqdm's widget progress bar, not lines of text;
and saves a screenshot to ``artifacts/browser/<lesson>.png``.

Kernels run with MCLIB_GRADING=1, so each lesson's last cell (the in-notebook self-check, about a
minute of grading) skips itself; the real self-check is run once, in lesson 00.

Chromium is Debian's package (``make test`` installs it when run as root on Debian or Ubuntu); the
test is skipped, saying why, only when there is no Chromium or no Playwright. MCLIB_CHROMIUM points
it at another Chromium binary.
"""
from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from autograder.course import GRADING_FLAG, ROOT, lesson_names, notebook_path

pytestmark = pytest.mark.browser

LESSONS = lesson_names(ROOT)
CHROMIUM = os.environ.get("MCLIB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"
SELFCHECK_LESSON = LESSONS[0]
RUN_TIMEOUT_S = int(os.environ.get("MCLIB_BROWSER_TIMEOUT", 20 * 60))  # one lesson, Run All Cells to idle (about 1 min on an idle 2-core machine)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]

# JupyterLab user settings for the test server: no autosave (the test decides what is saved), no news
# or update checks (offline, and no toasts over the notebook), and every cell kept in the page
# (JupyterLab 4 otherwise only attaches the cells near the viewport).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


# -- what each lesson should show, read from its source ----------------------------------------------

def _code_cells(lesson):
    nb = json.loads(notebook_path(lesson).read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def expected_explorers(lesson) -> int:
    """Calls of mclib.widgets.explorer(...) in the lesson."""
    return sum(len(re.findall(r"(?<![\w.])(?:widgets\.)?explorer\(", _source(c))) -
               len(re.findall(r"def explorer\(", _source(c))) for c in _code_cells(lesson))


def _progress_calls(tree) -> list:
    """fit()/progress() calls in ``tree`` that leave progress bars on (the default)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            # fit(...) / train.fit(...), not another library's .fit (scikit-learn's KMeans)
            name = f.id if isinstance(f, ast.Name) else f.attr if (
                isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                and f.value.id == "train") else None
            off = any(k.arg in ("show_progress", "enabled") for k in node.keywords)
            if name in ("fit", "progress") and not off:
                found.append(node)
    return found


def trains_with_progress(lesson) -> bool:
    """Does running the lesson call fit()/progress() with progress bars left on? Such a call counts
    when it is at a cell's top level, or in a function the lesson calls by name (one level, enough
    for these lessons); a call inside a function that is only handed to ``cached_model`` (training
    on a cache miss, e.g. lesson 03's MNIST path) does not."""
    trees = []
    for cell in _code_cells(lesson):
        lines = [ln for ln in _source(cell).splitlines() if not ln.lstrip().startswith(("%", "!"))]
        trees.append(ast.parse("\n".join(lines)))
    called = {n.func.id for t in trees for n in ast.walk(t)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for tree in trees:
        inside = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                direct = set(map(id, _progress_calls(fn)))
                for inner in ast.walk(fn):
                    if inner is not fn and isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                              ast.Lambda)):
                        direct -= set(map(id, _progress_calls(inner)))
                inside |= set(map(id, _progress_calls(fn)))
                if direct and getattr(fn, "name", None) in called:
                    return True
        if any(id(c) not in inside for c in _progress_calls(tree)):
            return True
    return False


def figure_cells(lesson) -> list[int]:
    """Indexes (among code cells) of cells that show a figure with a top-level plt.show()."""
    return [i for i, c in enumerate(_code_cells(lesson))
            if any(ln[:1].strip() and "plt.show()" in ln for ln in _source(c).splitlines())]


# -- the browser and the server ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def playwright_api():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package when "
                    f"run as root (apt-get); elsewhere install Chromium and set MCLIB_CHROMIUM to it")
    return pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright is not installed: `pip install -c constraints.txt -e '.[test,postgresql]'`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def lab(playwright_api):
    """JupyterLab on 127.0.0.1 serving a temporary copy of the lessons with the solutions in place,
    with its own HOME and Jupyter folders. Yields (base URL, token, lessons folder)."""
    from mclib import zoo

    for recipe in zoo.RECIPES.values():  # train the shared models once, outside the timed runs
        recipe()
    private = Path(tempfile.mkdtemp(prefix="mc-browser-"))
    course = private / "lessons"
    for lesson in LESSONS:
        (course / lesson).mkdir(parents=True)
        shutil.copy(notebook_path(lesson), course / lesson / f"{lesson}.ipynb")
    settings = private / "lab-settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ)
    for var in ("JUPYTER_PATH", "MPLBACKEND", "MCLIB_PROGRESS", "JPY_SESSION_NAME"):
        env.pop(var, None)  # inline figures and progress bars, as a student gets them
    env.update(
        HOME=str(private / "home"), JUPYTER_CONFIG_DIR=str(private / "jupyter-config"),
        JUPYTER_DATA_DIR=str(private / "jupyter-data"), JUPYTER_RUNTIME_DIR=str(private / "runtime"),
        IPYTHONDIR=str(private / "ipython"), MPLCONFIGDIR=str(private / "matplotlib"),
        JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(private / "workspaces"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", **{GRADING_FLAG: "1"},
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = private / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=private)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, course
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(playwright_api):
    profile = tempfile.mkdtemp(prefix="mc-chromium-")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


# -- page helpers --------------------------------------------------------------------------------------

#: The notebook in the current tab (a page may hold other, hidden notebook panels).
NB = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"

# Counts progress-bar widgets as they are added, even ones that tqdm closes a moment later.
WATCH_PROGRESS = """() => {
  window.__progressBars = 0;
  new MutationObserver(records => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1) continue;
      if (n.matches('.widget-hprogress, .widget-progress') ||
          n.querySelector('.widget-hprogress, .widget-progress')) window.__progressBars += 1;
    }
  }).observe(document.body, {childList: true, subtree: true});
}"""

# Every code cell has run: no cell is queued or running ([*]), and either every cell has an
# execution count or a cell shows an error (Run All stops at the first error).
ALL_RUN = """() => {
  const prompts = [...document.querySelectorAll('NB .jp-CodeCell .jp-InputArea-prompt')]
    .map(e => e.textContent.trim());
  if (!prompts.length || prompts.some(t => t.includes('*'))) return false;
  const failed = [...document.querySelectorAll('NB .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .some(e => /Traceback|Error/.test(e.textContent));
  return failed || prompts.every(t => /\\d/.test(t));
}""".replace("NB", NB)

KERNEL_IDLE = """() => {
  const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  return s === null || s.getAttribute('data-status') === 'idle';
}"""


def _open_notebook(page, base, token, lesson):
    # A workspace of its own, reset, so that no other notebook is restored beside this one.
    page.goto(f"{base}/lab/workspaces/{lesson}/tree/{lesson}/{lesson}.ipynb?reset&token={token}")
    page.wait_for_selector(f"{NB} .jp-Cell", timeout=120_000)
    # The kernel has started once the status says idle.
    page.wait_for_function(
        """() => { const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
                   return s && s.getAttribute('data-status') === 'idle'; }""", timeout=180_000)


def _menu(page, top, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click()


def _run_all(page, attempts=4):
    """Run > Run All Cells, until the cells start (right after the page loads, JupyterLab may not
    have enabled the command yet, and the click does nothing)."""
    started = f"""() => [...document.querySelectorAll('{NB} .jp-CodeCell .jp-InputArea-prompt')]
                          .some(e => /[*\\d]/.test(e.textContent))"""
    for attempt in range(attempts):
        page.keyboard.press("Escape")
        page.locator(f"{NB} .jp-Cell").first.click()
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(started, timeout=15_000 * (attempt + 1), polling=250)
            return
        except Exception:
            continue
    raise AssertionError(f"Run > Run All Cells did not start the cells ({attempts} tries)")


def _shut_down_kernels(base, token):
    """Shut down every kernel of the server (one lesson's kernel must not hold memory through the next)."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/sessions", headers=headers), timeout=30) as r:
        sessions = json.load(r)
    for session in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{session['id']}", method="DELETE", headers=headers)
        urllib.request.urlopen(req, timeout=60).close()


def _wait_all_run(page, timeout_s=RUN_TIMEOUT_S, progress_shot: Path | None = None):
    """Wait until every cell has run and the kernel is idle. With ``progress_shot``, take a
    screenshot there the first time a progress bar is on the page (evidence of what a student sees
    during training)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(ALL_RUN):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cells did not all run within {timeout_s} s")
        if progress_shot is not None:
            bar = page.locator(f"{NB} .widget-hprogress")
            if bar.count():
                try:
                    bar.first.scroll_into_view_if_needed(timeout=2_000)
                    page.screenshot(path=str(progress_shot))
                    progress_shot = None
                except Exception:  # the bar closed meanwhile: try the next one
                    pass
        time.sleep(0.25)
    page.wait_for_function(KERNEL_IDLE, timeout=120_000, polling=500)


def _stderr_texts(page):
    return page.locator(
        f'{NB} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()


def _save(page, path: Path):
    before = path.stat().st_mtime_ns
    page.locator(NB).first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "Ctrl+S did not save the notebook"
        time.sleep(0.3)
    time.sleep(0.5)
    return json.loads(path.read_text(encoding="utf-8"))


def _move_slider(page, slider):
    """Move a slider one step with the keyboard (right, or left when at its maximum)."""
    handle = slider.locator(".noUi-handle").first
    now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
    handle.focus()
    key = "ArrowLeft" if now is not None and top is not None and float(now) >= float(top) else "ArrowRight"
    page.keyboard.press(key)
    return key


def _check_explorers(page, lesson, problems):
    boxes = page.locator(f"{NB} .jp-OutputArea-output .widget-vbox:has(> .widget-slider)")
    n = boxes.count()
    if n < expected_explorers(lesson):
        problems.append(f"{n} explorers rendered, the lesson builds {expected_explorers(lesson)}")
    for i in range(n):
        box = boxes.nth(i)
        box.scroll_into_view_if_needed()
        img = box.locator(".widget-output img").first
        try:
            img.wait_for(timeout=60_000)
        except Exception:
            problems.append(f"explorer {i}: no figure")
            continue
        before = img.get_attribute("src")
        slider = box.locator(".widget-slider").first
        readout = slider.locator(".widget-readout").first.inner_text()
        key = _move_slider(page, slider)
        try:
            page.wait_for_function(
                """([box, before]) => { const i = box.querySelector('.widget-output img');
                                         return i && i.src !== before && i.naturalWidth > 0; }""",
                arg=[box.element_handle(), before], timeout=120_000, polling=250)
        except Exception:
            after = slider.locator(".widget-readout").first.inner_text()
            problems.append(f"explorer {i}: slider {readout!r} -> {after!r} ({key}) did not redraw the figure")


# -- the test ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_in_jupyterlab(lesson, lab, browser):
    base, token, course = lab
    nb_path = course / lesson / f"{lesson}.ipynb"
    page = browser.new_page()
    started = time.monotonic()
    try:
        _open_notebook(page, base, token, lesson)
        page.evaluate(WATCH_PROGRESS)
        _run_all(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        _wait_all_run(page, progress_shot=ARTIFACTS / f"{lesson}-progress.png"
                      if trains_with_progress(lesson) else None)
        ran_s = time.monotonic() - started
        problems = []

        errors = [t[:1500] for t in _stderr_texts(page) if re.search(r"Traceback|\w+Error\b", t)]
        if errors:
            problems.append("cells show errors:\n" + "\n---\n".join(errors))
        text_bars = [t[:300] for t in _stderr_texts(page) if re.search(r"\d+%\|", t)]
        if text_bars:
            problems.append("progress printed as text instead of a widget: " + text_bars[0])
        if trains_with_progress(lesson) and page.evaluate("window.__progressBars") == 0:
            problems.append("training ran but no progress-bar widget appeared")
        broken = page.evaluate(f"""() => [...document.querySelectorAll('{NB} .jp-OutputArea-output img')]
                                   .filter(i => !(i.complete && i.naturalWidth > 0)).length""")
        if broken:
            problems.append(f"{broken} figures did not render")

        saved = _save(page, nb_path)
        code = [c for c in saved["cells"] if c["cell_type"] == "code"]
        for c in code:
            for out in c.get("outputs", []):
                if out["output_type"] == "error":
                    problems.append(f"saved notebook: cell {c.get('id')} raised {out['ename']}: {out['evalue'][:300]}")
        not_run = [c.get("id") for c in code if c.get("execution_count") is None]
        if not_run:
            problems.append(f"cells that did not run: {not_run}")
        for i in figure_cells(lesson):
            outs = code[i].get("outputs", [])
            if not any("image/png" in o.get("data", {}) for o in outs):
                problems.append(f"cell {code[i].get('id')} calls plt.show() but shows no figure")

        _check_explorers(page, lesson, problems)

        # The screenshot: the last explorer, or else the last figure, in view.
        target = page.locator(f"{NB} .jp-OutputArea-output .widget-vbox:has(> .widget-slider)")
        if target.count() == 0:
            target = page.locator(f"{NB} .jp-OutputArea-output img")
        if target.count():
            target.last.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{lesson}.png"))

        if lesson == SELFCHECK_LESSON and not problems:
            _run_real_selfcheck(page, lesson, problems)
        print(f"{lesson}: all cells ran in the browser in {ran_s:.0f} s, "
              f"checks done at {time.monotonic() - started:.0f} s")
        assert not problems, f"{lesson} in JupyterLab:\n" + "\n".join(problems)
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{lesson}-failed.png"))
        raise
    finally:
        page.close()
        _shut_down_kernels(base, token)


def _run_real_selfcheck(page, lesson, problems):
    """Run the lesson's self-check cell for real (the notebook was just saved with the solutions):
    a scratch cell below it clears the grading flag in this kernel, then the self-check cell is run
    again, and must grade the saved notebook at full marks for the autograded cells."""
    cells = page.locator(f"{NB} .jp-Cell")
    last = cells.nth(cells.count() - 1)  # a fixed index: .last would move to the new cell
    last.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # a new cell below, not saved (autosave is off)
    page.keyboard.press("Enter")
    page.keyboard.insert_text(f"import os\nos.environ.pop({GRADING_FLAG!r}, None)")
    page.keyboard.press("Control+Enter")  # run in place (Shift+Enter would add yet another cell)
    page.keyboard.press("Escape")
    last.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Shift+Enter")
    out = last.locator(".jp-OutputArea-output")
    try:
        page.wait_for_function(
            """(cell) => /Autograded total|Traceback|Error/.test(cell.innerText)""",
            arg=last.element_handle(), timeout=600_000, polling=1000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"{lesson}-selfcheck.png"))
        problems.append("the self-check cell printed no score within 10 minutes: "
                        + " ".join(out.all_inner_texts())[-1000:])
        return
    page.wait_for_function(KERNEL_IDLE, timeout=120_000, polling=500)
    last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{lesson}-selfcheck.png"))
    text = "\n".join(out.all_inner_texts())
    total = re.search(r"Autograded total: ([\d.]+) / ([\d.]+)", text)
    if not total or float(total.group(1)) != float(total.group(2)) or float(total.group(2)) == 0:
        problems.append("the real self-check did not give the solution full marks:\n" + text[-2000:])
    else:
        print(f"{lesson}: self-check in the browser: {total.group(0)}")
