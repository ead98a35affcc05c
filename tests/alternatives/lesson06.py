"""Correct answers to lesson 06's exercises written differently from the solution; each must keep
full marks and leave every later cell running (tests/test_alternatives.py)."""

LESSON = "06-capstone"

_DP = '''def allocate_budget(table, budget_bytes):
    """Dynamic programming over the layers: for every reachable total size keep the least loss."""
    if type(budget_bytes) not in (int, float) or not budget_bytes > 0:
        raise ValueError(f"budget_bytes must be a positive number, got {budget_bytes!r}")
    if len(table) == 0 or any(len(options) == 0 for options in table.values()):
        raise ValueError("the table needs at least one layer, each with at least one candidate")
    frontier = {0: (0.0, {})}          # total bytes -> (least loss, plan)
    for layer, options in table.items():
        nxt = {}
        for size, (loss, plan) in frontier.items():
            for choice, (b, l) in options.items():
                s = size + b
                if s > budget_bytes:
                    continue
                if s not in nxt or loss + l < nxt[s][0]:
                    nxt[s] = (loss + l, {**plan, layer: choice})
        if not nxt:
            need = sum(min(b for b, _ in o.values()) for o in table.values())
            raise ValueError(f"budget of {budget_bytes} bytes too small: the smallest plan takes {need}")
        frontier = nxt
    return min(frontier.values(), key=lambda v: v[0])[1]
'''

_LOAD = '''def load_compressed(path):
    """Whole streams as bit strings, struct.unpack_from on a memoryview, one check before each read."""
    data = memoryview(open(path, "rb").read())
    offset = 0

    def need(n):
        if offset + n > len(data):
            raise ValueError(f"truncated file: {n} more bytes needed at offset {offset}, the file has {len(data)}")

    def read(fmt):
        nonlocal offset
        need(struct.calcsize(fmt))
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values

    def raw(n):
        nonlocal offset
        need(n)
        offset += n
        return bytes(data[offset - n:offset])

    def symbols(stream, lengths):
        lookup = {format(code, f"0{length}b"): s for s, (code, length) in canonical_codes(lengths).items()}
        current = ""
        for byte in stream:
            for bit in format(byte, "08b"):
                current += bit
                if current in lookup:
                    yield lookup[current]
                    current = ""

    if raw(4) != b"DCMP":
        raise ValueError("wrong magic: this is not a DCMP compressed model")
    version, count = read("<BB")
    if version != 1:
        raise ValueError(f"version {version} is not supported (only 1)")
    if count < 1:
        raise ValueError("no layers in the file")
    dims, layers = [], []
    for i in range(count):
        rows, cols, g, k = read("<IIBH")
        if g < 1 or g > 16:
            raise ValueError(f"bad gap bits {g}")
        if dims and dims[-1] != cols:
            raise ValueError("layer sizes do not match")
        if not dims:
            dims.append(cols)
        dims.append(rows)
        codebook = list(read(f"<{k}f"))
        (n,) = read("<I")
        vlen, glen = list(raw(k)), list(raw(2 ** g + 1))
        (size,) = read("<I")
        vals = list(itertools.islice(symbols(raw(size), vlen), n))
        (size,) = read("<I")
        gap_iter = symbols(raw(size), glen)
        bias = torch.tensor(np.frombuffer(raw(2 * rows), dtype=np.float16).astype(np.float32))
        if len(vals) < n:
            raise ValueError("value stream too short")
        w = torch.zeros(rows, cols)
        p = -1
        for value in vals:
            for s in gap_iter:
                if s < 2 ** g:
                    p += s + 1
                    break
                p += 2 ** g
            else:
                raise ValueError("gap stream too short")
            if p >= rows * cols:
                raise ValueError("weight position outside the matrix")
            w[p // cols, p % cols] = codebook[value]
        layers.append((w, bias))
    if offset != len(data):
        raise ValueError("extra bytes at the end of the file")
    net = models.MLP(dims)
    for i, (w, b) in enumerate(layers):
        lin = getattr(net, f"fc{i + 1}")
        lin.weight.data.copy_(w)
        lin.bias.data.copy_(b)
    net.eval()
    return net
'''

_SAVE = '''def save_compressed(model, plan, path):
    """Best gap bits per layer (1..8), codebook in descending order, np.packbits for the streams."""
    chunks = [b"DCMP", bytes([1])]
    layers = [(n, m) for n, m in model.named_children() if isinstance(m, torch.nn.Linear)]
    chunks.append(bytes([len(layers)]))

    def stream(symbols, alphabet):
        counts = {}
        for s in symbols:
            counts[s] = counts.get(s, 0) + 1
        lengths = np.zeros(alphabet, dtype=np.uint8)
        if counts:
            for s, l in huffman.code_lengths(counts).items():
                lengths[s] = l
        table = canonical_codes(lengths.tolist())
        bits = [int(b) for s in symbols for b in format(table[s][0], f"0{table[s][1]}b")]
        return lengths.tobytes(), np.packbits(np.array(bits, dtype=np.uint8)).tobytes()

    for name, lin in layers:
        try:
            bits = plan[name][1]
        except KeyError:
            raise ValueError(f"no plan for {name}") from None
        w = lin.weight.detach().float().flatten().numpy()
        kept = np.flatnonzero(w)
        codebook = sorted(set(w[kept].tolist()), reverse=True)
        if len(codebook) > 2 ** bits:
            raise ValueError(f"{name}: {len(codebook)} shared values do not fit in {bits} bits")
        where = {v: i for i, v in enumerate(codebook)}
        value_table, value_stream = stream([where[v] for v in w[kept].tolist()], len(codebook))
        best = None
        for g in range(1, 9):
            gaps, prev = [], -1
            for p in kept.tolist():
                d = p - prev
                gaps += [2 ** g] * ((d - 1) // 2 ** g)
                gaps.append((d - 1) % 2 ** g)
                prev = p
            gap_table, gap_stream = stream(gaps, 2 ** g + 1)
            if best is None or len(gap_table) + len(gap_stream) < len(best[1]) + len(best[2]):
                best = (g, gap_table, gap_stream)
        g, gap_table, gap_stream = best
        rows, cols = lin.weight.shape
        chunks += [struct.pack("<IIBH", rows, cols, g, len(codebook)),
                   np.array(codebook, dtype="<f4").tobytes(), struct.pack("<I", len(kept)),
                   value_table, gap_table, struct.pack("<I", len(value_stream)), value_stream,
                   struct.pack("<I", len(gap_stream)), gap_stream,
                   lin.bias.detach().numpy().astype(np.float16).tobytes()]
    blob = b"".join(chunks)
    with open(path, "wb") as f:
        f.write(blob)
    return os.path.getsize(path)
'''

ALTERNATIVES = [
    dict(name="dynamic programming over the total size", cell="allocate-budget", source=_DP),
    dict(name="memoryview + unpack_from, bit strings, per-weight placement", cell="load-compressed", source=_LOAD),
    dict(name="best gap bits per layer, descending codebook, np.packbits", cell="save-compressed", source=_SAVE),
]
