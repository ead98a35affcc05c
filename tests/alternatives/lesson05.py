"""Correct answers to lesson 05's exercises written differently from the solution; each must keep
full marks and leave every later cell running (tests/test_alternatives.py)."""
LESSON = "05-low-rank"

ALTERNATIVES = [
    # ---------------------------------------------------------------- svd_linear
    dict(name="svd_linear with NumPy's SVD, sqrt(S) split on both factors", cell="svd-linear", source='''
def svd_linear(layer, rank):
    out_f, in_f = layer.weight.shape
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1 or rank > min(in_f, out_f):
        raise ValueError(f"rank must be an integer between 1 and {min(in_f, out_f)}, got {rank!r}")
    u, s, vt = np.linalg.svd(layer.weight.detach().numpy().astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    first = nn.Linear(in_f, rank, bias=False)
    second = nn.Linear(rank, out_f, bias=layer.bias is not None)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(root[:, None] * vt[:rank]).float())
        second.weight.copy_(torch.from_numpy(u[:, :rank] * root).float())
        if layer.bias is not None:
            second.bias.copy_(layer.bias.detach())
    return nn.Sequential(first, second)
'''),
    dict(name="svd_linear in float32 with U_r S_r on the second layer", cell="svd-linear", source='''
def svd_linear(layer, rank):
    W = layer.weight.detach()
    k = min(W.shape)
    if not isinstance(rank, numbers.Integral) or isinstance(rank, bool) or not (0 < rank <= k):
        raise ValueError(f"rank {rank!r} is not an integer in [1, {k}]")
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    first = nn.Linear(W.shape[1], rank, bias=False)
    second = nn.Linear(rank, W.shape[0], bias=layer.bias is not None)
    first.weight = nn.Parameter(Vh[:rank].clone())
    second.weight = nn.Parameter((U[:, :rank] * S[:rank]).clone())
    if layer.bias is not None:
        second.bias = nn.Parameter(layer.bias.detach().clone())
    return nn.Sequential(first, second)
'''),
    # ---------------------------------------------------------------- dense_kernel / tucker2_conv
    dict(name="tucker2_conv with tensorly's partial_tucker; dense_kernel with torch.block_diag", cell="tucker2-conv", source='''
def dense_kernel(conv):
    w = conv.weight.detach().clone()
    g = conv.groups
    if g == 1:
        return w
    T, s_g, kh, kw = w.shape
    blocks = w.reshape(g, T // g, s_g, kh, kw)
    out = torch.zeros(T, s_g * g, kh, kw, dtype=w.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = torch.block_diag(*[blocks[b, :, :, i, j] for b in range(g)])
    return out


def tucker2_conv(conv, rank_in, rank_out, n_iter=10):
    S, T = conv.in_channels, conv.out_channels
    for r, top in ((rank_in, S), (rank_out, T)):
        if not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= top:
            raise ValueError(f"ranks must be integers with 1 <= rank_in <= {S} and 1 <= rank_out <= {T}, got {rank_in!r}, {rank_out!r}")
    kernel = dense_kernel(conv).double()
    (core, (u_out, u_in)), _ = partial_tucker(kernel, rank=[rank_out, rank_in], modes=[0, 1], n_iter_max=max(n_iter, 1) * 10,
                                               init="svd", tol=1e-10)
    layers = nn.Sequential(
        nn.Conv2d(S, rank_in, 1, bias=False),
        nn.Conv2d(rank_in, rank_out, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                  dilation=conv.dilation, bias=False),
        nn.Conv2d(rank_out, T, 1, bias=conv.bias is not None))
    with torch.no_grad():
        layers[0].weight.copy_(u_in.T.reshape(rank_in, S, 1, 1))
        layers[1].weight.copy_(core)
        layers[2].weight.copy_(u_out.reshape(T, rank_out, 1, 1))
        if conv.bias is not None:
            layers[2].bias.copy_(conv.bias.detach())
    return layers
'''),
    dict(name="tucker2_conv as plain HOSVD with eigendecompositions of the Gram matrices", cell="tucker2-conv", source='''
def dense_kernel(conv):
    w = conv.weight.detach()
    T, s_g = w.shape[:2]
    g = conv.groups
    full = torch.zeros((T, s_g * g) + tuple(w.shape[2:]), dtype=w.dtype)
    t_g = T // g
    for grp in range(g):
        full[grp * t_g:(grp + 1) * t_g, grp * s_g:(grp + 1) * s_g] = w[grp * t_g:(grp + 1) * t_g]
    return full


def tucker2_conv(conv, rank_in, rank_out, n_iter=10):
    S, T = conv.in_channels, conv.out_channels
    if type(rank_in) is not int or type(rank_out) is not int or not (1 <= rank_in <= S and 1 <= rank_out <= T):
        raise ValueError(f"need integers 1 <= rank_in <= {S}, 1 <= rank_out <= {T}")
    K = dense_kernel(conv).double()
    A = K.reshape(T, -1)
    B = K.permute(1, 0, 2, 3).reshape(S, -1)
    u_out = torch.linalg.eigh(A @ A.T).eigenvectors.flip(-1)[:, :rank_out]   # leading eigenvectors
    u_in = torch.linalg.eigh(B @ B.T).eigenvectors.flip(-1)[:, :rank_in]
    core = torch.einsum("tsij,tq,sr->qrij", K, u_out, u_in)
    first = nn.Conv2d(S, rank_in, 1, bias=False)
    core_conv = nn.Conv2d(rank_in, rank_out, conv.kernel_size, conv.stride, conv.padding, conv.dilation, bias=False)
    last = nn.Conv2d(rank_out, T, 1, bias=conv.bias is not None)
    first.weight.data = u_in.T.float()[:, :, None, None].contiguous()
    core_conv.weight.data = core.float().contiguous()
    last.weight.data = u_out.float()[:, :, None, None].contiguous()
    if conv.bias is not None:
        last.bias.data = conv.bias.detach().clone()
    return nn.Sequential(first, core_conv, last)
'''),
    # ---------------------------------------------------------------- tucker2_params / tucker2_macs
    dict(name="counts per convolution, summed", cell="tucker2-counts", source='''
def tucker2_params(D, S, T, R3, R4):
    first, core, last = S * R3, D ** 2 * R3 * R4, R4 * T
    return first + core + last


def tucker2_macs(D, S, T, R3, R4, H, W, H_out, W_out):
    first = tucker2_params(1, S, 0, R3, 0) * H * W            # 1x1 on the input grid
    core = D ** 2 * R3 * R4 * H_out * W_out                   # the stride lives here
    last = R4 * T * H_out * W_out
    return sum([first, core, last])
'''),
    # ---------------------------------------------------------------- lowrank_counts
    dict(name="lowrank_counts with per-layer helpers and sum()", cell="lowrank-counts", source='''
def lowrank_counts(convs, fcs, ranks):
    for name in ranks:
        if name not in convs and name not in fcs:
            raise KeyError(name)

    def conv_counts(name, L):
        if name in ranks:
            R3, R4 = ranks[name]
            args = (L["D"], L["S"], L["T"], R3, R4)
            return tucker2_params(*args), tucker2_macs(*args, L["H"], L["W"], L["H_out"], L["W_out"])
        w = L["D"] * L["D"] * (L["S"] // L["groups"]) * L["T"]
        return w, w * L["H_out"] * L["W_out"]

    def fc_counts(name, n, m):
        w = ranks[name] * n + ranks[name] * m if name in ranks else n * m
        return w, w

    per_layer = [conv_counts(n, L) for n, L in convs.items()] + [fc_counts(n, *nm) for n, nm in fcs.items()]
    return sum(w for w, _ in per_layer), sum(m for _, m in per_layer)
'''),
    # ---------------------------------------------------------------- choose_ranks
    dict(name="choose_ranks hard-coded from a search by hand (conv1 decomposed too)", cell="choose-ranks", source='''
def choose_ranks():
    # found by trial with lowrank_counts: about x5.6 fewer weights, x2.7 fewer MACs
    return {"conv1": (3, 32), "conv2": (48, 96), "conv3": (96, 128), "conv4": (128, 128), "conv5": (128, 96),
            "fc6": 420, "fc7": 420, "fc8": 200}
'''),
    dict(name="choose_ranks by a grid search over two fractions", cell="choose-ranks", source='''
def choose_ranks():
    best = None
    for c in [i / 100 for i in range(10, 80)]:
        convs = {n: (max(1, int(c * L["S"])), max(1, int(c * L["T"]))) for n, L in ALEXNET_CONVS.items() if n != "conv1"}
        for f in [i / 200 for i in range(2, 60)]:
            r = dict(convs)
            r.update({n: max(1, int(f * min(a, b))) for n, (a, b) in ALEXNET_FCS.items()})
            w, m = lowrank_counts(ALEXNET_CONVS, ALEXNET_FCS, r)
            err = abs(ALEXNET_WEIGHTS / w / KIM_WEIGHT_RATIO - 1) + abs(ALEXNET_MACS / m / KIM_MAC_RATIO - 1)
            if best is None or err < best[0]:
                best = (err, r)
    return best[1]
'''),
    # ---------------------------------------------------------------- separable_filters
    dict(name="separable_filters with a NumPy SVD per filter, sqrt split", cell="separable-filters", source='''
def separable_filters(filters, rank):
    kh, kw = filters.shape[-2:]
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= min(kh, kw):
        raise ValueError(f"rank must be an int in [1, {min(kh, kw)}], got {rank!r}")
    flat = filters.detach().reshape(-1, kh, kw).double().numpy()
    vs, hs = [], []
    for f in flat:
        u, s, vt = np.linalg.svd(f)
        root = np.sqrt(s[:rank])
        vs.append((u[:, :rank] * root).T)
        hs.append(root[:, None] * vt[:rank])
    lead = tuple(filters.shape[:-2])
    vertical = torch.from_numpy(np.stack(vs)).reshape(lead + (rank, kh)).to(filters.dtype)
    horizontal = torch.from_numpy(np.stack(hs)).reshape(lead + (rank, kw)).to(filters.dtype)
    return vertical, horizontal
'''),
    dict(name="separable_filters in float32, singular values on the horizontal factor", cell="separable-filters", source='''
def separable_filters(filters, rank):
    kh, kw = filters.shape[-2:]
    if not isinstance(rank, numbers.Integral) or isinstance(rank, bool) or rank < 1 or rank > min(kh, kw):
        raise ValueError("rank out of range")
    U, S, Vh = torch.linalg.svd(filters.detach(), full_matrices=False)
    vertical = U[..., :rank].transpose(-2, -1).contiguous()
    horizontal = S[..., :rank, None] * Vh[..., :rank, :]
    return vertical, horizontal
'''),
]
