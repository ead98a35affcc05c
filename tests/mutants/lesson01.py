"""Wrong implementations of lesson 01's graded functions; each must fail its tests."""
LESSON = "01-distillation"

_SOFTMAX = ["test-softmax-with-temperature"]
_LOSS = ["test-distillation-loss", "test-distillation-loss-teacher"]
_ENSEMBLE = ["test-ensemble-soft-targets"]
_TRAIN = ["test-train-student"]


def _softmax(body):
    return "def softmax_with_temperature(logits, T):\n" + body


def _loss(body, checks=True):
    head = "def distillation_loss(student_logits, teacher_logits, labels, T, lam):\n"
    if checks:
        head += ("    if not T > 0:\n        raise ValueError('T must be > 0')\n"
                 "    if not 0.0 <= lam <= 1.0:\n        raise ValueError('lam must lie in [0, 1]')\n")
    return head + body


_ENSEMBLE_CHECKS = '''
def ensemble_soft_targets(teacher_logits_list, T, mode="arithmetic"):
    logits = list(teacher_logits_list)
    if not logits:
        raise ValueError("no teachers")
    for z in logits:
        if z.shape != logits[0].shape:
            raise ValueError("shapes differ")
'''


def _ensemble(body):
    return _ENSEMBLE_CHECKS + body


def _train(loop_body, before="", after="    student.eval()\n    return history\n"):
    return ('''
def train_student(student, teacher, loader, T, lam, epochs, lr=1e-3, seed=0, show_progress=None):
    seed_everything(seed)
''' + (before or '''    if isinstance(teacher, nn.Module):
        teacher.eval()
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
''') + '''    history = []
    for _ in progress(range(epochs), total=epochs, desc="distilling", enabled=show_progress):
        student.train()
        total, count = 0.0, 0
        for x, y in loader:
''' + loop_body + '''            total += float(loss.detach()) * len(y)
            count += len(y)
        history.append(total / max(count, 1))
''' + after)


_STEP = '''            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
'''
_TEACHER = '''            with torch.no_grad():
                teacher_logits = teacher(x)
'''

MUTANTS = [
    # softmax_with_temperature
    dict(name="multiplies the logits by T", cell="softmax-with-temperature", tests=_SOFTMAX, source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    z = logits * T
    z = z - z.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
''')),
    dict(name="ignores T", cell="softmax-with-temperature", tests=_SOFTMAX, source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    z = logits - logits.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
''')),
    dict(name="does not subtract the maximum (overflows)", cell="softmax-with-temperature", tests=_SOFTMAX,
         source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    e = torch.exp(logits / T)
    return e / e.sum(dim=-1, keepdim=True)
''')),
    dict(name="subtracts one global maximum instead of each row's", cell="softmax-with-temperature",
         tests=_SOFTMAX, source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    z = logits / T
    z = z - z.max()
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
''')),
    dict(name="normalises over the first dimension", cell="softmax-with-temperature", tests=_SOFTMAX,
         source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    z = logits / T
    z = z - z.max(dim=0, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=0, keepdim=True)
''')),
    dict(name="normalises over dim=1 (right only for 2-D input)", cell="softmax-with-temperature",
         tests=_SOFTMAX, source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    z = logits / T
    z = z - z.max(dim=1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=1, keepdim=True)
''')),
    dict(name="accepts T = 0 (checks T < 0)", cell="softmax-with-temperature", tests=_SOFTMAX, source=_softmax('''
    if T < 0:
        raise ValueError("T must be >= 0")
    z = logits / T
    z = z - z.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
''')),
    dict(name="modifies the logits in place", cell="softmax-with-temperature", tests=_SOFTMAX, source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    logits -= logits.max(dim=-1, keepdim=True).values
    e = torch.exp(logits / T)
    return e / e.sum(dim=-1, keepdim=True)
''')),
    # distillation_loss (the six mistakes named in the issue come first)
    dict(name="missing the T^2 factor", cell="distillation-loss", tests=_LOSS, source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * kl
''')),
    dict(name="lambda on the wrong term", cell="distillation-loss", tests=_LOSS, source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return (1 - lam) * F.cross_entropy(student_logits, labels) + lam * T * T * kl
''')),
    dict(name="T applied to the teacher but not the student", cell="distillation-loss", tests=_LOSS, source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="softmax instead of log-softmax inside the KL", cell="distillation-loss", tests=_LOSS, source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="KL averaged over all elements instead of the batch", cell="distillation-loss", tests=_LOSS,
         source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="mean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="teacher not detached", cell="distillation-loss", tests=_LOSS, source=_loss('''
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="T instead of T^2", cell="distillation-loss", tests=_LOSS, source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * kl
''')),
    dict(name="KL in the reverse direction, KL(q_student || p_teacher)", cell="distillation-loss", tests=_LOSS,
         source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(teacher_logits / T, -1), F.softmax(student_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="hard-label cross-entropy on the tempered student logits", cell="distillation-loss", tests=_LOSS,
         source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits / T, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="KL summed over the batch", cell="distillation-loss", tests=_LOSS, source=_loss('''
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="sum")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
''')),
    dict(name="does not validate lam", cell="distillation-loss", tests=_LOSS, source='''
def distillation_loss(student_logits, teacher_logits, labels, T, lam):
    if not T > 0:
        raise ValueError("T must be > 0")
    teacher_logits = teacher_logits.detach()
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1), reduction="batchmean")
    return lam * F.cross_entropy(student_logits, labels) + (1 - lam) * T * T * kl
'''),
    # ensemble_soft_targets
    dict(name="arithmetic mode averages the logits", cell="ensemble-soft-targets", tests=_ENSEMBLE, source=_ensemble('''
    if mode == "arithmetic":
        return softmax_with_temperature(torch.stack(logits).mean(dim=0), T)
    if mode == "geometric":
        return softmax_with_temperature(torch.stack([F.log_softmax(z / T, -1) for z in logits]).mean(0), 1.0)
    raise ValueError("unknown mode")
''')),
    dict(name="geometric mean not renormalised", cell="ensemble-soft-targets", tests=_ENSEMBLE, source=_ensemble('''
    if mode == "arithmetic":
        return torch.stack([softmax_with_temperature(z, T) for z in logits]).mean(dim=0)
    if mode == "geometric":
        return torch.stack([F.log_softmax(z / T, -1) for z in logits]).mean(0).exp()
    raise ValueError("unknown mode")
''')),
    dict(name="geometric mode sums the log-probabilities", cell="ensemble-soft-targets", tests=_ENSEMBLE,
         source=_ensemble('''
    if mode == "arithmetic":
        return torch.stack([softmax_with_temperature(z, T) for z in logits]).mean(dim=0)
    if mode == "geometric":
        return softmax_with_temperature(torch.stack([F.log_softmax(z / T, -1) for z in logits]).sum(0), 1.0)
    raise ValueError("unknown mode")
''')),
    dict(name="geometric mode ignores T", cell="ensemble-soft-targets", tests=_ENSEMBLE, source=_ensemble('''
    if mode == "arithmetic":
        return torch.stack([softmax_with_temperature(z, T) for z in logits]).mean(dim=0)
    if mode == "geometric":
        return softmax_with_temperature(torch.stack([F.log_softmax(z, -1) for z in logits]).mean(0), 1.0)
    raise ValueError("unknown mode")
''')),
    dict(name="unknown mode falls back to arithmetic", cell="ensemble-soft-targets", tests=_ENSEMBLE,
         source=_ensemble('''
    if mode == "geometric":
        return softmax_with_temperature(torch.stack([F.log_softmax(z / T, -1) for z in logits]).mean(0), 1.0)
    return torch.stack([softmax_with_temperature(z, T) for z in logits]).mean(dim=0)
''')),
    dict(name="no shape check (torch errors instead of ValueError)", cell="ensemble-soft-targets",
         tests=_ENSEMBLE, source='''
def ensemble_soft_targets(teacher_logits_list, T, mode="arithmetic"):
    logits = list(teacher_logits_list)
    if not logits:
        raise ValueError("no teachers")
    if mode == "arithmetic":
        return torch.stack([softmax_with_temperature(z, T) for z in logits]).mean(dim=0)
    if mode == "geometric":
        return softmax_with_temperature(torch.stack([F.log_softmax(z / T, -1) for z in logits]).mean(0), 1.0)
    raise ValueError("unknown mode")
'''),
    dict(name="averages over the class dimension", cell="ensemble-soft-targets", tests=_ENSEMBLE,
         source=_ensemble('''
    if mode == "arithmetic":
        return torch.stack([softmax_with_temperature(z, T) for z in logits], dim=-1).mean(dim=-2)
    if mode == "geometric":
        return softmax_with_temperature(torch.stack([F.log_softmax(z / T, -1) for z in logits]).mean(0), 1.0)
    raise ValueError("unknown mode")
''')),
    # train_student
    dict(name="ignores the teacher (labels only)", cell="train-student", tests=_TRAIN, source=_train('''
            loss = F.cross_entropy(student(x), y)
''' + _STEP)),
    dict(name="never steps the optimizer", cell="train-student", tests=_TRAIN, source=_train(_TEACHER + '''
            loss = distillation_loss(student(x), teacher_logits, y, T, lam)
            optimizer.zero_grad()
            loss.backward()
''')),
    dict(name="teacher left in train mode (dropout on)", cell="train-student", tests=_TRAIN,
         source=_train(_TEACHER + '''
            loss = distillation_loss(student(x), teacher_logits, y, T, lam)
''' + _STEP, before='''    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
''')),
    dict(name="student left in train mode", cell="train-student", tests=_TRAIN, source=_train(_TEACHER + '''
            loss = distillation_loss(student(x), teacher_logits, y, T, lam)
''' + _STEP, after="    return history\n")),
    dict(name="passes 1 - lam as lam", cell="train-student", tests=_TRAIN, source=_train(_TEACHER + '''
            loss = distillation_loss(student(x), teacher_logits, y, T, 1 - lam)
''' + _STEP)),
    dict(name="optimizes the teacher's parameters", cell="train-student", tests=_TRAIN,
         source=_train(_TEACHER + '''
            loss = distillation_loss(student(x), teacher_logits, y, T, lam)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
''', before='''    if isinstance(teacher, nn.Module):
        teacher.eval()
    optimizer = torch.optim.Adam(teacher.parameters(), lr=lr)
''')),
    dict(name="returns one loss per batch instead of per epoch", cell="train-student", tests=_TRAIN, source='''
def train_student(student, teacher, loader, T, lam, epochs, lr=1e-3, seed=0, show_progress=None):
    seed_everything(seed)
    if isinstance(teacher, nn.Module):
        teacher.eval()
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    history = []
    for _ in progress(range(epochs), total=epochs, desc="distilling", enabled=show_progress):
        student.train()
        for x, y in loader:
            with torch.no_grad():
                teacher_logits = teacher(x)
            loss = distillation_loss(student(x), teacher_logits, y, T, lam)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(float(loss.detach()))
    student.eval()
    return history
'''),
]

MUTANTS.insert(8, dict(name="calls torch.softmax instead of writing the formula", cell="softmax-with-temperature",
                       tests=_SOFTMAX, source=_softmax('''
    if not T > 0:
        raise ValueError("T must be > 0")
    return torch.softmax(logits / T, dim=-1)
''')))
