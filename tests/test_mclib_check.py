import pytest
import torch

import mclib.measure
from mclib import check as C
from mclib.measure import num_parameters
from mclib.models import MLP


def test_failures_say_expected_got_and_hint():
    with pytest.raises(C.CheckFailed) as err:
        C.check_equal(3, 4, "f(2)", hint="add one")
    assert str(err.value) == "f(2): expected 4, got 3.\nHint: add one"
    assert isinstance(err.value, AssertionError)


def test_check_equal_tensors_reports_shape_and_count():
    with pytest.raises(C.CheckFailed, match="shape"):
        C.check_equal(torch.zeros(2), torch.zeros(3), "x")
    with pytest.raises(C.CheckFailed, match="1 of 3 entries differ"):
        C.check_equal(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4]), "x")
    C.check_equal(torch.tensor([1, 2]), torch.tensor([1, 2]), "x")


def test_check_close_tolerances_and_nan():
    C.check_close(1.0 + 1e-9, 1.0, "x")
    with pytest.raises(C.CheckFailed, match="largest error"):
        C.check_close(torch.tensor([1.0, 2.5]), torch.tensor([1.0, 2.0]), "x")
    with pytest.raises(C.CheckFailed, match="NaN"):
        C.check_close(torch.tensor([float("nan")]), torch.tensor([0.0]), "x")
    with pytest.raises(C.CheckFailed, match="shape"):
        C.check_close(torch.zeros(2, 1), torch.zeros(2), "x")


def test_check_type_shape_and_raises():
    C.check_type(3, int, "n")
    with pytest.raises(C.CheckFailed, match="type int"):
        C.check_type(True, int, "n")
    with pytest.raises(C.CheckFailed, match="shape"):
        C.check_shape(torch.zeros(2, 3), (3, 2), "w")
    assert isinstance(C.check_raises(lambda: int("x"), ValueError, "int('x')"), ValueError)
    with pytest.raises(C.CheckFailed, match="no error"):
        C.check_raises(lambda: 1, ValueError, "f")
    with pytest.raises(C.CheckFailed, match="NotImplementedError"):
        C.check_raises(lambda: (_ for _ in ()).throw(NotImplementedError()), ValueError, "f")
    with pytest.raises(C.CheckFailed, match="hint!"):
        C.check(False, "cond", hint="hint!")


def test_forbid_calls_blocks_imported_names_and_restores():
    m = MLP([2, 2])
    with C.forbid_calls(mclib.measure):
        with pytest.raises(RuntimeError, match="switched off"):
            num_parameters(m)
        with pytest.raises(RuntimeError, match="switched off"):
            mclib.measure.dense_bytes(3, 8)
    assert num_parameters(m) == 6 and mclib.measure.dense_bytes(3, 8) == 3
    with pytest.raises(KeyError):
        with C.forbid_calls(mclib.measure):
            raise KeyError("x")
    assert mclib.measure.dense_bytes(3, 8) == 3  # restored after an exception too


def test_answers_cannot_bring_their_own_comparison():
    import numpy as np

    class Liar:
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        def __bool__(self):
            return True

    class Always(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return True

    class Arr(np.ndarray):
        def __eq__(self, other):
            return np.ones(1, bool)

    for wrong, expected in [(Liar(), 6), (torch.zeros(3).as_subclass(Always), torch.ones(3)),
                            (np.zeros(3).view(Arr), np.ones(3)), (True, 1), ("6", 6),
                            (torch.ones(3, dtype=torch.int64), torch.ones(3))]:
        with pytest.raises(C.CheckFailed):
            C.check_equal(wrong, expected, "x")
    for wrong, expected in [(Liar(), 6), (torch.zeros(3).as_subclass(Always), torch.ones(3)),
                            (np.zeros(3).view(Arr), np.ones(3)), (torch.ones(2, dtype=torch.bool), torch.ones(2))]:
        with pytest.raises(C.CheckFailed):
            C.check_close(wrong, expected, "x")
    # Honest answers of other exact types still pass: NumPy scalars, floats for ints, lists.
    import numpy as np
    C.check_equal(np.int64(6), 6, "x")
    C.check_equal(6.0, 6, "x")
    C.check_equal([1, 2], [1, 2], "x")
    C.check_close(np.float32(0.5), 0.5, "x")
    C.check_close([0.5, 1.0], torch.tensor([0.5, 1.0]), "x")
