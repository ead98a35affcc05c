"""Fairness: every correct answer written differently keeps full marks, and the rest of the lesson
still runs with it (tests/alternatives/). The mirror of the mutants in test_pipeline.py."""
import pytest

from autograder.course import ROOT
from autograder.mutation import alternative_files, format_alternatives_table, run_alternatives

pytestmark = pytest.mark.notebooks


@pytest.mark.parametrize("lesson", sorted(alternative_files(ROOT)))
def test_every_alternative_keeps_full_marks(lesson):
    results = run_alternatives(lesson)
    print(format_alternatives_table(results))
    assert results, f"{lesson}: no alternatives"
    lost = [f"{r.name} ({r.detail})" for r in results if not r.ok]
    assert not lost, f"{lesson}: correct answers that lose points or break later cells: {lost}"
