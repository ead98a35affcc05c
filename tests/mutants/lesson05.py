"""Wrong implementations of lesson 05's graded functions; each must fail its tests.

Each mutant is the correct solution with one realistic mistake, written as an explicit text
replacement (``_mutate`` fails loudly if the solution changed and a replacement no longer applies).
"""
LESSON = "05-low-rank"

_SVD = ["test-svd-linear"]
_TUCKER = ["test-tucker2-conv"]
_COUNTS = ["test-tucker2-counts"]
_RANKS = ["test-choose-ranks"]


def _mutate(source, *pairs):
    for old, new in pairs:
        if source.count(old) != 1:
            raise ValueError(f"mutant replacement {old!r} does not occur exactly once")
        source = source.replace(old, new)
    return source

_SVD_OK = '''
def svd_linear(layer, rank):
    """Two Linear layers (in -> rank without bias, rank -> out with the bias) from the truncated SVD."""
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"layer must be an nn.Linear, got {type(layer).__name__}")
    out_f, in_f = layer.weight.shape
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not 1 <= rank <= min(in_f, out_f):
        raise ValueError(f"rank must be an integer in [1, {min(in_f, out_f)}] for a {in_f} -> {out_f} "
                         f"layer, got {rank!r}")
    rank = int(rank)
    w = layer.weight.detach()
    u, s, vh = torch.linalg.svd(w.double(), full_matrices=False)
    first = nn.Linear(in_f, rank, bias=False)
    second = nn.Linear(rank, out_f, bias=layer.bias is not None)
    with torch.no_grad():
        first.weight.copy_(s[:rank, None] * vh[:rank])   # Σ_r V_rᵀ  (rank x in)
        second.weight.copy_(u[:, :rank])                # U_r       (out x rank)
        if layer.bias is not None:
            second.bias.copy_(layer.bias)
    return nn.Sequential(first, second).to(w.dtype)
'''

_TUCKER_OK = '''
def dense_kernel(conv):
    """The T x S x kh x kw kernel of ``conv`` with its groups written out as a block-diagonal dense kernel."""
    w = conv.weight.detach()
    g = conv.groups
    if g == 1:
        return w.clone()
    t_g, s_g = w.shape[0] // g, w.shape[1]
    full = w.new_zeros(w.shape[0], s_g * g, *w.shape[2:])
    for i in range(g):
        full[i * t_g:(i + 1) * t_g, i * s_g:(i + 1) * s_g] = w[i * t_g:(i + 1) * t_g]
    return full


def tucker2_conv(conv, rank_in, rank_out, n_iter=10):
    """nn.Sequential(1x1 S -> rank_in, kxk rank_in -> rank_out (stride, padding, dilation), 1x1 rank_out -> T + bias)."""
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    S, T = conv.in_channels, conv.out_channels
    for name, r, top in (("rank_in", rank_in, S), ("rank_out", rank_out, T)):
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 1 <= r <= top:
            raise ValueError(f"{name} must be an integer in [1, {top}] for a {S} -> {T} conv, got {r!r}")
    rank_in, rank_out = int(rank_in), int(rank_out)

    def leading(mat, r):  # the r leading left singular vectors (all of them if r > columns)
        return torch.linalg.svd(mat, full_matrices=r > min(mat.shape))[0][:, :r]

    k = dense_kernel(conv).double()                                  # T x S x kh x kw
    u_out = leading(k.reshape(T, -1), rank_out)                      # HOSVD: mode-0 unfolding
    u_in = leading(k.transpose(0, 1).reshape(S, -1), rank_in)        # mode-1 unfolding
    for _ in range(n_iter):                                          # HOOI sweeps
        u_out = leading(torch.einsum("tsij,sr->trij", k, u_in).reshape(T, -1), rank_out)
        u_in = leading(torch.einsum("tsij,tq->sqij", k, u_out).reshape(S, -1), rank_in)
    core = torch.einsum("tsij,tq,sr->qrij", k, u_out, u_in)          # rank_out x rank_in x kh x kw
    first = nn.Conv2d(S, rank_in, 1, bias=False)
    middle = nn.Conv2d(rank_in, rank_out, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                       dilation=conv.dilation, padding_mode=conv.padding_mode, bias=False)
    last = nn.Conv2d(rank_out, T, 1, bias=conv.bias is not None)
    with torch.no_grad():
        first.weight.copy_(u_in.T[:, :, None, None])
        middle.weight.copy_(core)
        last.weight.copy_(u_out[:, :, None, None])
        if conv.bias is not None:
            last.bias.copy_(conv.bias)
    return nn.Sequential(first, middle, last).to(conv.weight.dtype)
'''

_COUNTS_OK = '''
def tucker2_params(D, S, T, R3, R4):
    """Weights of a Tucker-2 decomposed DxD conv (S -> T channels, ranks R3, R4), biases excluded."""
    return int(S * R3 + D * D * R3 * R4 + T * R4)


def tucker2_macs(D, S, T, R3, R4, H, W, H_out, W_out):
    """MACs of a Tucker-2 decomposed conv on one H x W input giving an H_out x W_out output."""
    return int(S * R3 * H * W + D * D * R3 * R4 * H_out * W_out + T * R4 * H_out * W_out)
'''

_RANKS_OK = '''
def lowrank_alexnet_counts(ranks):
    """(weights, MACs) of AlexNet with the layers in ``ranks`` decomposed, by Kim et al.'s formulas."""
    weights = macs = 0
    for name, L in ALEXNET_CONVS.items():
        if name in ranks:
            r3, r4 = ranks[name]
            weights += tucker2_params(L["D"], L["S"], L["T"], r3, r4)
            macs += tucker2_macs(L["D"], L["S"], L["T"], r3, r4, L["H"], L["W"], L["H_out"], L["W_out"])
        else:
            w = L["D"] ** 2 * L["S"] * L["T"] // L["groups"]
            weights += w
            macs += w * L["H_out"] * L["W_out"]
    for name, (n, m) in ALEXNET_FCS.items():
        w = ranks[name] * (n + m) if name in ranks else n * m
        weights += w
        macs += w
    return weights, macs


def choose_ranks():
    """Ranks for conv2..conv5 (pairs) and fc6..fc8 (ints) hitting x5.46 weights and x2.67 MACs."""
    def ranks_for(c, f):  # the same fraction c of the channels for every conv, f of min(n, m) for every fc
        r = {name: (max(1, round(c * L["S"])), max(1, round(c * L["T"])))
             for name, L in ALEXNET_CONVS.items() if name != "conv1"}  # conv1 has only 3 input channels
        r.update({name: max(1, round(f * min(n, m))) for name, (n, m) in ALEXNET_FCS.items()})
        return r

    def bisect(ratio_of, target):  # ratio_of(t) falls as t grows; find t in (0, 1] with ratio = target
        lo, hi = 1e-3, 1.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if ratio_of(mid) > target else (lo, mid)
        return (lo + hi) / 2

    c, f = 0.5, 0.5
    for _ in range(4):  # the convs set the MACs, the fc layers the weights: alternate until both settle
        c = bisect(lambda t: ALEXNET_MACS / lowrank_alexnet_counts(ranks_for(t, f))[1], KIM_MAC_RATIO)
        f = bisect(lambda t: ALEXNET_WEIGHTS / lowrank_alexnet_counts(ranks_for(c, t))[0], KIM_WEIGHT_RATIO)
    return ranks_for(c, f)
'''


def _m(name, cell, tests, base, *pairs):
    return dict(name=name, cell=cell, tests=tests, source=_mutate(base, *pairs))


MUTANTS = [
    # ---------------------------------------------------------------- svd_linear
    _m("keeps rank + 1 components (U[:, :r+1])", "svd-linear", _SVD, _SVD_OK,
       ("first = nn.Linear(in_f, rank, bias=False)", "first = nn.Linear(in_f, rank + 1, bias=False)"),
       ("second = nn.Linear(rank, out_f,", "second = nn.Linear(rank + 1, out_f,"),
       ("first.weight.copy_(s[:rank, None] * vh[:rank])", "first.weight.copy_(s[:rank + 1, None] * vh[:rank + 1])"),
       ("second.weight.copy_(u[:, :rank])", "second.weight.copy_(u[:, :rank + 1])")),
    _m("factors not scaled by the singular values", "svd-linear", _SVD, _SVD_OK,
       ("first.weight.copy_(s[:rank, None] * vh[:rank])", "first.weight.copy_(vh[:rank])")),
    _m("bias on the first layer too", "svd-linear", _SVD, _SVD_OK,
       ("first = nn.Linear(in_f, rank, bias=False)", "first = nn.Linear(in_f, rank)")),
    _m("bias lost", "svd-linear", _SVD, _SVD_OK,
       ("second = nn.Linear(rank, out_f, bias=layer.bias is not None)", "second = nn.Linear(rank, out_f, bias=False)"),
       ("        if layer.bias is not None:\n            second.bias.copy_(layer.bias)\n", "")),
    _m("transposed factors (U on the input side)", "svd-linear", _SVD, _SVD_OK,
       ("first.weight.copy_(s[:rank, None] * vh[:rank])", "first.weight.copy_((u[:, :rank] * s[:rank]).T)"),
       ("second.weight.copy_(u[:, :rank])", "second.weight.copy_(vh[:rank].T)")),
    _m("keeps the smallest singular values", "svd-linear", _SVD, _SVD_OK,
       ("first.weight.copy_(s[:rank, None] * vh[:rank])", "first.weight.copy_(s[-rank:, None] * vh[-rank:])"),
       ("second.weight.copy_(u[:, :rank])", "second.weight.copy_(u[:, -rank:])")),
    _m("rank checked against max(in, out)", "svd-linear", _SVD, _SVD_OK,
       ("not 1 <= rank <= min(in_f, out_f)", "not 1 <= rank <= max(in_f, out_f)")),
    _m("rank 0 accepted", "svd-linear", _SVD, _SVD_OK,
       ("not 1 <= rank <= min(in_f, out_f)", "not 0 <= rank <= min(in_f, out_f)")),
    _m("writes the approximation back into the input layer", "svd-linear", _SVD, _SVD_OK,
       ("        if layer.bias is not None:\n            second.bias.copy_(layer.bias)\n",
        "        if layer.bias is not None:\n            second.bias.copy_(layer.bias)\n"
        "        layer.weight.copy_(second.weight @ first.weight)\n")),
    _m("returns float64 layers", "svd-linear", _SVD, _SVD_OK,
       ("return nn.Sequential(first, second).to(w.dtype)", "return nn.Sequential(first, second).double()")),
    # ---------------------------------------------------------------- tucker2_conv
    _m("first and last 1x1 factors swapped", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("first.weight.copy_(u_in.T[:, :, None, None])", "first.weight.copy_(u_out.T[:, :, None, None])"),
       ("last.weight.copy_(u_out[:, :, None, None])", "last.weight.copy_(u_in[:, :, None, None])")),
    _m("stride put on the first 1x1 conv", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("first = nn.Conv2d(S, rank_in, 1, bias=False)", "first = nn.Conv2d(S, rank_in, 1, stride=conv.stride, bias=False)"),
       ("conv.kernel_size, stride=conv.stride,", "conv.kernel_size,")),
    _m("stride put on the last 1x1 conv", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("last = nn.Conv2d(rank_out, T, 1, bias=", "last = nn.Conv2d(rank_out, T, 1, stride=conv.stride, bias="),
       ("conv.kernel_size, stride=conv.stride,", "conv.kernel_size,")),
    _m("bias lost", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("last = nn.Conv2d(rank_out, T, 1, bias=conv.bias is not None)", "last = nn.Conv2d(rank_out, T, 1, bias=False)"),
       ("        if conv.bias is not None:\n            last.bias.copy_(conv.bias)\n", "")),
    _m("bias put on the first conv", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("first = nn.Conv2d(S, rank_in, 1, bias=False)", "first = nn.Conv2d(S, rank_in, 1)"),
       ("last = nn.Conv2d(rank_out, T, 1, bias=conv.bias is not None)", "last = nn.Conv2d(rank_out, T, 1, bias=False)"),
       ("        if conv.bias is not None:\n            last.bias.copy_(conv.bias)\n", "")),
    _m("rank_in and rank_out transposed", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("    rank_in, rank_out = int(rank_in), int(rank_out)\n", "    rank_in, rank_out = int(rank_out), int(rank_in)\n")),
    _m("modes swapped (U_out from the mode-1 unfolding)", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("u_out = leading(k.reshape(T, -1), rank_out)", "u_out = leading(k.transpose(0, 1).reshape(S, -1), rank_out)"),
       ("u_in = leading(k.transpose(0, 1).reshape(S, -1), rank_in)", "u_in = leading(k.reshape(T, -1), rank_in)"),
       ("    for _ in range(n_iter):", "    for _ in range(0):")),
    _m("padding dropped on the core", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("stride=conv.stride, padding=conv.padding,", "stride=conv.stride,")),
    _m("dilation dropped on the core", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("                       dilation=conv.dilation, padding_mode", "                       padding_mode")),
    _m("groups ignored (grouped weight decomposed as if dense)", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("    w = conv.weight.detach()\n    g = conv.groups\n    if g == 1:", "    w = conv.weight.detach()\n    g = conv.groups\n    if True:")),
    _m("keeps the trailing singular vectors", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("[0][:, :r]", "[0][:, -r:]"),
       ("full_matrices=r > min(mat.shape)", "full_matrices=False")),
    _m("rank_in allowed up to max(S, T)", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ('(("rank_in", rank_in, S), ("rank_out", rank_out, T))', '(("rank_in", rank_in, max(S, T)), ("rank_out", rank_out, max(S, T)))')),
    _m("returns float64 layers", "tucker2-conv", _TUCKER, _TUCKER_OK,
       ("return nn.Sequential(first, middle, last).to(conv.weight.dtype)", "return nn.Sequential(first, middle, last).double()")),
    # ---------------------------------------------------------------- tucker2_params / tucker2_macs
    _m("core MACs counted at the input resolution", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("D * D * R3 * R4 * H_out * W_out", "D * D * R3 * R4 * H * W")),
    _m("first 1x1 counted at the output resolution", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("S * R3 * H * W", "S * R3 * H_out * W_out")),
    _m("last 1x1 counted at the input resolution", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("T * R4 * H_out * W_out", "T * R4 * H * W")),
    _m("D instead of D squared in the core", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("return int(S * R3 + D * D * R3 * R4 + T * R4)", "return int(S * R3 + D * R3 * R4 + T * R4)")),
    _m("R3 and R4 swapped in the 1x1 terms", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("return int(S * R3 + D * D * R3 * R4 + T * R4)", "return int(S * R4 + D * D * R3 * R4 + T * R3)")),
    _m("biases counted as weights", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("return int(S * R3 + D * D * R3 * R4 + T * R4)", "return int(S * R3 + D * D * R3 * R4 + T * R4 + T)")),
    _m("MACs counted as FLOPs (x2)", "tucker2-counts", _COUNTS, _COUNTS_OK,
       ("return int(S * R3 * H * W +", "return 2 * int(S * R3 * H * W +")),
    # ---------------------------------------------------------------- choose_ranks
    _m("weight and MAC targets swapped", "choose-ranks", _RANKS, _RANKS_OK,
       ("[1], KIM_MAC_RATIO)", "[1], KIM_WEIGHT_RATIO)"),
       ("[0], KIM_WEIGHT_RATIO)", "[0], KIM_MAC_RATIO)")),
    _m("only the convolutions decomposed", "choose-ranks", _RANKS, _RANKS_OK,
       ("        r.update({name: max(1, round(f * min(n, m))) for name, (n, m) in ALEXNET_FCS.items()})\n", "")),
    _m("ranks left as NumPy floats (np.round)", "choose-ranks", _RANKS, _RANKS_OK,
       ("r.update({name: max(1, round(f * min(n, m)))", "r.update({name: max(1, np.round(f * min(n, m)))")),
    _m("groups ignored in the original network's counts", "choose-ranks", _RANKS, _RANKS_OK,
       ('w = L["D"] ** 2 * L["S"] * L["T"] // L["groups"]', 'w = L["D"] ** 2 * L["S"] * L["T"]'),
       ("ALEXNET_MACS / lowrank_alexnet_counts", "lowrank_alexnet_counts({})[1] / lowrank_alexnet_counts"),
       ("ALEXNET_WEIGHTS / lowrank_alexnet_counts", "lowrank_alexnet_counts({})[0] / lowrank_alexnet_counts")),
    _m("SVD'd fc layer counted as n*r weights (second factor forgotten)", "choose-ranks", _RANKS, _RANKS_OK,
       ("w = ranks[name] * (n + m) if name in ranks else n * m", "w = ranks[name] * n if name in ranks else n * m")),
]
