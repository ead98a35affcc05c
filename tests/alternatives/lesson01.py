"""Correct answers to lesson 01's exercises written differently from the solution; each must keep
full marks and leave every later cell running (tests/test_alternatives.py)."""
LESSON = "01-distillation"

ALTERNATIVES = [
    # ---------------------------------------------------------------- softmax_with_temperature
    dict(name="exp(z - logsumexp(z)) with amax", cell="softmax-with-temperature", source='''
def softmax_with_temperature(logits, T):
    if T <= 0:
        raise ValueError("T must be positive")
    z = logits / T
    z = z - torch.amax(z, dim=-1, keepdim=True)
    return torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True))
'''),
    dict(name="float64 arithmetic through numpy, back to the input dtype", cell="softmax-with-temperature", source='''
def softmax_with_temperature(logits, T):
    if not (T > 0):
        raise ValueError(f"temperature must be > 0, not {T}")
    z = logits.detach().cpu().double().numpy() / T
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return torch.from_numpy(e / e.sum(axis=-1, keepdims=True)).to(logits.dtype)
'''),
    # ---------------------------------------------------------------- distillation_loss
    dict(name="F.kl_div with batchmean, teacher under no_grad", cell="distillation-loss", source='''
def distillation_loss(student_logits, teacher_logits, labels, T, lam):
    if T <= 0:
        raise ValueError("T must be > 0")
    if lam < 0 or lam > 1:
        raise ValueError("lam must be in [0, 1]")
    with torch.no_grad():
        p_teacher = F.softmax(teacher_logits / T, dim=1)
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=1), p_teacher, reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T ** 2 * soft
'''),
    dict(name="log(softmax) written out, nll_loss for the labels", cell="distillation-loss", source='''
def distillation_loss(student_logits, teacher_logits, labels, T, lam):
    if not T > 0 or not 0 <= lam <= 1:
        raise ValueError("need T > 0 and 0 <= lam <= 1")
    q = torch.log(torch.softmax(student_logits / T, dim=-1))
    p = torch.softmax(teacher_logits.detach() / T, dim=-1)
    kl = torch.sum(p * (torch.log(p) - q)) / student_logits.shape[0]
    hard = F.nll_loss(F.log_softmax(student_logits, dim=-1), labels)
    return lam * hard + (1 - lam) * (T * T) * kl
'''),
    dict(name="soft cross-entropy minus the teacher's entropy", cell="distillation-loss", source='''
def distillation_loss(student_logits, teacher_logits, labels, T, lam):
    if T <= 0:
        raise ValueError("T must be > 0")
    if not (0.0 <= lam <= 1.0):
        raise ValueError("lam must lie in [0, 1]")
    p = F.softmax(teacher_logits.detach() / T, dim=-1)
    soft_ce = F.cross_entropy(student_logits / T, p)          # mean over the batch of -sum p log q
    entropy = -(p * F.log_softmax(teacher_logits.detach() / T, dim=-1)).sum(-1).mean()
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * (soft_ce - entropy)
'''),
    # ---------------------------------------------------------------- logit_matching_loss
    dict(name="F.mse_loss with reduction='sum' over 2B", cell="logit-matching", source='''
def logit_matching_loss(student_logits, teacher_logits):
    if student_logits.ndim != 2 or teacher_logits.ndim != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError("expected two (B, C) tensors of the same shape")
    with torch.no_grad():
        t = teacher_logits - teacher_logits.mean(1, keepdim=True)
    s = student_logits - student_logits.mean(1, keepdim=True)
    return F.mse_loss(s, t, reduction="sum") / (2 * s.shape[0])
'''),
    dict(name="centring matrix, explicit loop over the batch", cell="logit-matching", source='''
def logit_matching_loss(student_logits, teacher_logits):
    if len(student_logits.shape) != 2 or tuple(student_logits.shape) != tuple(teacher_logits.shape):
        raise ValueError(f"shapes {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}: need equal (B, C)")
    B, C = student_logits.shape
    centre = torch.eye(C, dtype=student_logits.dtype) - 1.0 / C
    diff = (student_logits - teacher_logits.detach()) @ centre
    total = 0.0
    for b in range(B):
        total = total + 0.5 * torch.dot(diff[b], diff[b])
    return total / B
'''),
    # ---------------------------------------------------------------- ensemble_soft_targets
    dict(name="geometric mode as the softmax of the mean logits", cell="ensemble-soft-targets", source='''
def ensemble_soft_targets(teacher_logits_list, T, mode="arithmetic"):
    if mode not in ("arithmetic", "geometric"):
        raise ValueError(f"unknown mode {mode!r}")
    if len(teacher_logits_list) == 0:
        raise ValueError("at least one teacher is needed")
    if any(z.shape != teacher_logits_list[0].shape for z in teacher_logits_list):
        raise ValueError("all teachers' logits must have the same shape")
    if T <= 0:
        raise ValueError("T must be > 0")
    if mode == "arithmetic":
        total = 0
        for z in teacher_logits_list:
            total = total + softmax_with_temperature(z, T)
        return total / len(teacher_logits_list)
    # log p_k = z_k / T - logsumexp_k: the logsumexp terms are constants per row, which the softmax removes
    return softmax_with_temperature(sum(teacher_logits_list) / len(teacher_logits_list), T)
'''),
    dict(name="exp of the mean log-probability, renormalised by hand", cell="ensemble-soft-targets", source='''
def ensemble_soft_targets(teacher_logits_list, T, mode="arithmetic"):
    zs = [z for z in teacher_logits_list]
    if not zs:
        raise ValueError("empty list of teachers")
    for z in zs[1:]:
        if z.shape != zs[0].shape:
            raise ValueError("teachers disagree on the shape of their logits")
    if not T > 0:
        raise ValueError("T must be > 0")
    log_p = torch.stack([torch.log_softmax(z / T, dim=-1) for z in zs])
    if mode == "arithmetic":
        return log_p.exp().mean(0)
    if mode == "geometric":
        g = log_p.mean(0)
        g = torch.exp(g - g.max(dim=-1, keepdim=True).values)
        return g / g.sum(dim=-1, keepdim=True)
    raise ValueError("mode must be 'arithmetic' or 'geometric'")
'''),
    # ---------------------------------------------------------------- train_student
    dict(name="detach instead of no_grad, unweighted mean of batch losses", cell="train-student", source='''
def train_student(student, teacher, loader, T, lam, epochs, lr=1e-3, seed=0, show_progress=None):
    seed_everything(seed)
    if isinstance(teacher, nn.Module):
        teacher.eval()
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    losses = []
    for epoch in progress(range(epochs), total=epochs, desc="distilling", enabled=show_progress):
        student.train()
        batch_losses = []
        for inputs, labels in loader:
            targets = teacher(inputs).detach()
            opt.zero_grad()
            loss = distillation_loss(student(inputs), targets, labels, T, lam)
            loss.backward()
            opt.step()
            batch_losses.append(loss.item())
        losses.append(float(np.mean(batch_losses)))
    student.eval()
    return losses
'''),
    dict(name="freezes the teacher with requires_grad_(False), inference_mode", cell="train-student", source='''
def train_student(student, teacher, loader, T, lam, epochs, lr=1e-3, seed=0, show_progress=None):
    seed_everything(seed)
    if isinstance(teacher, nn.Module):
        teacher.eval()
        teacher.requires_grad_(False)
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    history = []
    for _ in progress(range(epochs), total=epochs, desc="distilling", enabled=show_progress):
        student.train()
        running, n = 0.0, 0
        for x, y in loader:
            with torch.inference_mode():
                t = teacher(x)
            loss = distillation_loss(student(x), t.clone(), y, T, lam)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item() * x.shape[0]
            n += x.shape[0]
        history.append(running / n)
    student.train(False)
    return history
'''),
]
