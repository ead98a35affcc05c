# nbgrader configuration of the course. The course command line (python -m autograder) copies this
# file into each temporary nbgrader course folder it grades in; instructors who run nbgrader
# directly pass it with --config autograder/nbgrader_config.py from the course root.
c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "model-compression"
c.CourseDirectory.source_directory = "solutions"   # instructor notebooks with solutions and hidden tests
c.CourseDirectory.release_directory = "lessons"    # student versions, generated and committed
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Only notebooks are released; scratch files next to a solution never reach students.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Every lesson runs in under a minute on 2 CPU cores; one cell may take at most 120 s while
# grading (a loaded machine grading many students at once is slower than a learner's laptop).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# The grading kernel is killed once the last cell has run, not asked to shut down: nothing of its
# state is kept, and a graceful shutdown waits about a second per submission for it (and runs any
# exit handler the submission registered).
c.Execute.shutdown_kernel = "immediate"

# How a test cell is scored (autograder/verdicts.py): it earns its points exactly when the
# instructor's test code ran to completion without raising, as seen from the grader's side of the
# kernel connection (the execute reply, and in the course's grading runs the guard's authenticated
# record of the code that ran). Printed output, warnings, stderr and displayed values neither give
# nor take points, and there is no partial credit: nbgrader's output-based rule
# (utils.determine_grade, which reads a displayed number as partial credit and zeroes any stderr)
# is switched off by replacing its Execute and SaveAutoGrades preprocessors.
c.Autograde.autograde_preprocessors = [
    "autograder.verdicts.GradingExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.verdicts.SaveVerdicts",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Output is bounded in bytes as it arrives (per cell and per notebook; a marker says where it was
# cut), so nbgrader's line limit is not needed; its traceback limit stays.
c.GradingExecute.cell_output_bytes = 1_000_000
c.GradingExecute.notebook_output_bytes = 5_000_000
c.LimitOutput.max_lines = -1

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback must not reveal hidden tests: any output line quoting one is redacted, their source is
# cleared and error tracebacks (which quote the failing lines) are cut down to type and message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback.RedactHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.feedback.ShortenTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# nbconvert's HTML export minus its BeautifulSoup pass over the finished page (autograder/feedback.py).
c.GenerateFeedback.exporter_class = "autograder.feedback.FeedbackExporter"

# Grading skips the experiment cells the lesson's owner tagged skip-in-grading (training runs,
# sweeps, timings no test reads), before the notebook executes; a tag on a solution, test or locked
# cell stops grading with an error (autograder/skipcells.py). It goes first, in front of the steps
# configured above (or nbgrader's own when none are), so this block stays last in the file.
from nbgrader.converters.autograde import Autograde as _Autograde  # noqa: E402

c.Autograde.autograde_preprocessors = [
    "autograder.skipcells.SkipExperimentCells",
    *(c.Autograde.autograde_preprocessors if "autograde_preprocessors" in c.Autograde
      else _Autograde.class_traits()["autograde_preprocessors"].default()),
]
