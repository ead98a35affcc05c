"""Wrong implementations of lesson 06's graded functions; each must fail its tests.

Each mutant is the solution cell with one plausible mistake edited in (``autograder.mutation.Mutator``
reads the solution notebook at import, so the mutants follow it; an edit that no longer applies
raises instead of silently testing the unchanged solution).
"""
from autograder.mutation import Mutator

LESSON = "06-capstone"

M = Mutator(LESSON, tests={
    "allocate-budget": ["test-allocate-budget"],
    "load-compressed": ["test-load-compressed"],
    "save-compressed": ["test-save-compressed"],
})

_GREEDY = '''def allocate_budget(table, budget_bytes):
    """Greedy: start from each layer's least-loss candidate, then shrink the layer that loses least
    per byte saved until the plan fits (not optimal in general)."""
    if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, (int, float)) or not budget_bytes > 0:
        raise ValueError(f"budget_bytes must be a positive number, got {budget_bytes!r}")
    if not table or any(not options for options in table.values()):
        raise ValueError("every layer needs candidates")
    plan = {n: min(options, key=lambda c: (options[c][1], options[c][0])) for n, options in table.items()}
    size = lambda: sum(table[n][plan[n]][0] for n in table)
    while size() > budget_bytes:
        best = None
        for n, options in table.items():
            b0, l0 = options[plan[n]]
            for c, (b, l) in options.items():
                if b < b0:
                    ratio = (l - l0) / (b0 - b)
                    if best is None or ratio < best[0]:
                        best = (ratio, n, c)
        if best is None:
            raise ValueError("no plan fits in the budget")
        plan[best[1]] = best[2]
    return plan
'''

MUTANTS = [
    # ---------------------------------------------------------------- allocate_budget
    M("a plan exactly at the budget is refused (< instead of <=)", "allocate-budget",
      ("if size <= budget_bytes and", "if size < budget_bytes and")),
    M("infeasible budget returns None instead of raising", "allocate-budget",
      ("    if best_plan is None:\n        smallest", "    if False:\n        smallest")),
    M("minimises the bytes instead of the loss", "allocate-budget",
      ("loss = sum(cost[1] for _, cost in combo)", "loss = sum(cost[0] for _, cost in combo)")),
    M("maximises the loss", "allocate-budget",
      ("(best_loss is None or loss < best_loss)", "(best_loss is None or loss > best_loss)")),
    M("accepts a bool budget", "allocate-budget",
      ("if isinstance(budget_bytes, bool) or not isinstance", "if not isinstance")),
    M("greedy by loss per byte (not optimal)", "allocate-budget", source=_GREEDY),
    M("forgets the last layer", "allocate-budget",
      ("    layers = list(table)\n", "    layers = list(table)[:-1] or list(table)\n")),

    # ---------------------------------------------------------------- load_compressed
    M("no magic check", "load-compressed", ('    if magic != b"DCMP":\n', "    if False:\n")),
    M("no version check", "load-compressed", ("    if version != 1:\n", "    if False:\n")),
    M("reads past the end without a ValueError", "load-compressed",
      ("        if pos + n > len(buf):\n", "        if False:\n")),
    M("accepts bytes after the last layer", "load-compressed",
      ("    if pos != len(buf):\n", "    if False:\n")),
    M("skip symbol advances S - 1 positions", "load-compressed",
      ("prev += span if s == span else s + 1", "prev += span - 1 if s == span else s + 1")),
    M("gap symbol taken as the gap (off by one)", "load-compressed",
      ("prev += span if s == span else s + 1", "prev += span if s == span else s")),
    M("weights filled column-major", "load-compressed",
      ("weight.reshape(out_f, in_f)", "weight.reshape(in_f, out_f).t()")),
    M("biases read big-endian", "load-compressed", ('"<f2"', '">f2"')),
    M("codebook read as float16 pairs", "load-compressed",
      ('np.frombuffer(take(4 * k, f"layer {layer}\'s codebook"), "<f4")',
       'np.frombuffer(take(4 * k, f"layer {layer}\'s codebook"), "<f2")[::2]')),
    M("model left in training mode", "load-compressed", ("    return model.eval()", "    return model")),

    # ---------------------------------------------------------------- save_compressed
    M("wrong magic", "save-compressed", ('bytearray(b"DCMP")', 'bytearray(b"DCPM")')),
    M("version 0", "save-compressed", ('struct.pack("<BB", 1, len(linears))', 'struct.pack("<BB", 0, len(linears))')),
    M("shape written big-endian", "save-compressed",
      ('struct.pack("<IIBH", w.shape[0]', 'struct.pack(">IIBH", w.shape[0]')),
    M("shape written as (in, out)", "save-compressed",
      ("w.shape[0], w.shape[1], GAP_BITS", "w.shape[1], w.shape[0], GAP_BITS")),
    M("Deep Compression's filler code S - 1 instead of the skip symbol S", "save-compressed",
      ("torch.full_like(codes, span)", "torch.full_like(codes, span - 1)")),
    M("fixed-width codes instead of Huffman codes", "save-compressed",
      ("lengths[symbol] = length", "lengths[symbol] = max(1, (alphabet - 1).bit_length())")),
    M("biases stored as float32", "save-compressed", ('.astype("<f2")', '.astype("<f4")')),
    M("no check of the plan's bit width", "save-compressed",
      ("        if len(codebook) > 2 ** bits:\n", "        if False:\n")),
    M("no ValueError for a layer missing from the plan", "save-compressed",
      ("        if name not in plan:\n", "        if False:\n")),
    M("returns the size without the header", "save-compressed", ("    return len(out)", "    return len(out) - 6")),
    M("stream size in bits", "save-compressed",
      ('struct.pack("<I", len(stream)) + stream', 'struct.pack("<I", 8 * len(stream)) + stream')),
]
