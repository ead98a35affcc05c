"""What a student sees after grading, without the hidden tests."""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = ["ShortenTracebacks", "error_summary"]


def error_summary(cell) -> str | None:
    """'ExceptionType: message' of the first error a code cell's outputs hold, or None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


class ShortenTracebacks(Preprocessor):
    """Replace each error output's traceback by its last line. A traceback quotes the source
    lines around the failure, which for a hidden test would reveal the test itself."""

    enabled = Bool(True).tag(config=True)  # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
