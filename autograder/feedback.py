"""What a student sees after grading, without the hidden tests."""
from __future__ import annotations

import re

import jinja2
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Integer

__all__ = ["ShortenTracebacks", "RedactHiddenTests", "FeedbackExporter", "error_summary",
           "hidden_lines", "redact", "add_missing_alt", "warm_templates"]

_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
REDACTED = "[line hidden by the grader: it quotes a hidden test]"


def error_summary(cell) -> str | None:
    """'ExceptionType: message' of the first error a code cell's outputs hold, or None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


def hidden_lines(nb, min_chars: int = 6) -> set[str]:
    """The stripped lines of every hidden-test block of ``nb`` with at least ``min_chars``
    characters (shorter ones, such as ``)`` or ``else:``, quote nothing)."""
    lines = set()
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for block in _HIDDEN.findall(cell.get("source", "") + "\n"):
            lines |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= min_chars}
    return lines


def redact(text: str, lines: set[str]) -> str:
    """``text`` with every line that contains one of ``lines`` replaced by a marker."""
    if not lines or not isinstance(text, str):
        return text
    out = []
    for ln in text.split("\n"):
        out.append(REDACTED if any(h in ln for h in lines) else ln)
    return "\n".join(out)


class ShortenTracebacks(Preprocessor):
    """Replace each error output's traceback by its last line. A traceback quotes the source
    lines around the failure, which for a hidden test would reveal the test itself."""

    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


class RedactHiddenTests(Preprocessor):
    """Hide every output line, in any cell, that quotes a line of a hidden test: whatever a
    submission printed (its own cells' source, the test code it saw run), the feedback never
    shows the hidden tests. Runs before nbgrader's ClearHiddenTests, which removes them from the
    cells' source."""

    enabled = Bool(True).tag(config=True)
    min_chars = Integer(6, help="hidden-test lines shorter than this are not searched for").tag(config=True)

    def preprocess(self, nb, resources):
        self._lines = hidden_lines(nb, self.min_chars)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = redact(out["text"], self._lines)
            for key in ("evalue", "ename"):
                if key in out:
                    out[key] = redact(out[key], self._lines)
            if "traceback" in out:
                out["traceback"] = [redact(t, self._lines) for t in out["traceback"]]
            for mime, value in list(out.get("data", {}).items()):
                if isinstance(value, str) and (mime.startswith("text/") or mime.endswith(("json", "javascript"))):
                    out["data"][mime] = redact(value, self._lines)
                elif isinstance(value, list):
                    out["data"][mime] = [redact(v, self._lines) for v in value]
                elif not isinstance(value, str):
                    out["data"][mime] = redact(str(value), self._lines) if self._lines and any(
                        h in str(value) for h in self._lines) else value
        return cell, resources


MISSING_ALT = "No description has been provided for this image"
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\salt\s*=)", re.I)


def add_missing_alt(html: str) -> str:
    """``html`` with an ``alt`` text on every ``<img>`` tag that has none (screen readers read it)."""
    return _IMG_WITHOUT_ALT.sub(f'<img alt="{MISSING_ALT}"', html)


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept in this process's memory. jinja2 checks each entry against its
    template's source (a changed template is compiled again)."""

    def __init__(self):
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket):
        self._store[bucket.key] = bucket.bytecode_to_string()


#: Shared by every FeedbackExporter of this process: filled once in the nbgrader fork server
#: (``warm_templates``), each feedback forked from it starts with the templates compiled.
TEMPLATES = _MemoryBytecodeCache()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML export (nbgrader's feedback template) without the second pass nbconvert 7
    makes over the finished page: it parses the whole page with BeautifulSoup to add ``alt`` texts
    and JupyterLab focus attributes, then writes it out again. For a lesson's feedback that pass was
    about half of generate_feedback's time, for every submission. Here the ``alt`` texts are added
    by ``add_missing_alt``; the focus attributes belong to the lab template's classes, which the
    classic-based feedback template does not use. Everything else is HTMLExporter's own code path
    (its filters, as it registers them, and the template). Compiled templates are kept in
    ``TEMPLATES``."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATES
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code", self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return add_missing_alt(html), resources


def warm_templates() -> None:
    """Compile the feedback page's templates into ``TEMPLATES`` by rendering a two-cell notebook
    with the template nbgrader's generate_feedback uses (its GenerateFeedback sets these paths)."""
    import os

    import nbformat
    import nbgrader

    base = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
    exporter = FeedbackExporter(
        template_name="feedback", extra_template_basedirs=[os.path.join(base, "templates")],
        extra_template_paths=[os.path.join(base, "static", "node_modules", "bootstrap", "dist", "css")])
    # A page like a lesson's: Python highlighted as IPython, Markdown with code, a link and a list.
    nb = nbformat.v4.new_notebook(
        metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
        cells=[nbformat.v4.new_markdown_cell(
                   "A *short* `text`, with [a link](https://example.org).\n\n- item", id="a"),
               nbformat.v4.new_code_cell("import torch\nx = [1, 2.0, 'a']  # c", id="b")])
    exporter.from_notebook_node(nb, {"nbgrader": {"notebook": "warm-up", "score": 0, "max_score": 0,
                                                 "late_penalty": 0}})
