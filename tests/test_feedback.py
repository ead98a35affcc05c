"""The feedback page's exporter: nbconvert's HTML export without its BeautifulSoup pass, same page."""
import base64
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.feedback import MISSING_ALT, FeedbackExporter, add_missing_alt

# A 1x1 PNG: enough for an <img> in the page.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def _notebook():
    nb = new_notebook(metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"},
                                "kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nb.cells = [
        new_markdown_cell("# Pruning\nSome *text* with `code` and $x^2$.", id="intro"),
        new_code_cell("import torch\nprint('hello')", id="code", execution_count=1, outputs=[
            new_output("stream", name="stdout", text="hello\n")]),
        new_code_cell("plot()", id="plot", execution_count=2, outputs=[
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]),
        new_code_cell("1 / 0", id="err", execution_count=3, outputs=[
            new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                       traceback=["ZeroDivisionError: division by zero"])]),
        new_markdown_cell('An image with its own text: <img src="x.png" alt="a chart">', id="md-img"),
    ]
    nbformat.validate(nb)
    return nb


def _text(html):
    return re.sub(r"\s+", " ", BeautifulSoup(html, "html.parser").get_text()).strip()


@pytest.mark.parametrize("template", ["classic", "lab"])
def test_same_page_as_nbconvert_with_alt_texts(template):
    nb = _notebook()
    ours, _ = FeedbackExporter(template_name=template).from_notebook_node(nb)
    theirs, _ = HTMLExporter(template_name=template).from_notebook_node(nb)
    assert _text(ours) == _text(theirs)
    images = BeautifulSoup(ours, "html.parser").find_all("img")
    assert len(images) == len(BeautifulSoup(theirs, "html.parser").find_all("img")) == 2
    assert sorted(i.get("alt") for i in images) == sorted([MISSING_ALT, "a chart"])
    assert "division by zero" in _text(ours) and "hello" in _text(ours)


@pytest.mark.parametrize("html, expected", [
    ('<img src="a.png">', f'<img alt="{MISSING_ALT}" src="a.png">'),
    ('<IMG src="a.png"/>', f'<img alt="{MISSING_ALT}" src="a.png"/>'),
    ('<img src="a.png" alt="">', '<img src="a.png" alt="">'),            # decorative: kept
    ('<img\nalt="x"\nsrc="a.png">', '<img\nalt="x"\nsrc="a.png">'),
    ('<image-gallery src="a">', '<image-gallery src="a">'),               # not an <img>
    ('<p>no images</p>', '<p>no images</p>'),
])
def test_add_missing_alt(html, expected):
    assert add_missing_alt(html) == expected


def test_compiled_templates_are_shared_between_exporters_and_change_nothing(monkeypatch):
    from autograder import feedback

    monkeypatch.setattr(feedback, "TEMPLATES", feedback._MemoryBytecodeCache())
    nb = _notebook()
    first, _ = FeedbackExporter(template_name="classic").from_notebook_node(nb)
    compiled = dict(feedback.TEMPLATES._store)
    assert compiled, "the first export compiles its templates into the shared cache"
    second, _ = FeedbackExporter(template_name="classic").from_notebook_node(nb)
    assert second == first and feedback.TEMPLATES._store == compiled  # read back, not compiled again


def test_warm_templates_compiles_nbgraders_feedback_page(monkeypatch):
    from autograder import feedback

    monkeypatch.setattr(feedback, "TEMPLATES", feedback._MemoryBytecodeCache())
    feedback.warm_templates()
    assert len(feedback.TEMPLATES._store) >= 5  # the feedback page and the templates it extends
