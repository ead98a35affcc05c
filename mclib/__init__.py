"""mclib: the model-compression course's helper library.

Everything a lesson needs that is not its exercise: data (``mclib.data``), networks
(``mclib.models``), training loops and the model cache (``mclib.train``, ``mclib.zoo``),
measurement (``mclib.measure``), figures (``mclib.plot``), interactive explorers
(``mclib.widgets``) and the checks that visible tests use (``mclib.check``).
Import the submodule you need: ``from mclib import data, models``.
"""
__version__ = "0.1.0"
