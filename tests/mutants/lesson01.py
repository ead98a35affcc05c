"""Wrong implementations of lesson 01's graded functions; each must fail its tests.

Each mutant is the solution cell, read from the solution notebook by ``Mutator``, with one plausible
mistake edited in.
"""
from autograder.mutation import Mutator

LESSON = "01-distillation"

M = Mutator(LESSON, tests={
    "softmax-with-temperature": ["test-softmax-with-temperature"],
    "distillation-loss": ["test-distillation-loss", "test-distillation-loss-teacher"],
    "logit-matching": ["test-logit-matching"],
    "ensemble-soft-targets": ["test-ensemble-soft-targets"],
    "train-student": ["test-train-student"],
})

_SM_MAX = "    z = z - z.max(dim=-1, keepdim=True).values\n"
_KL = "kl = (p_teacher * (log_p_teacher - log_q_student)).sum(dim=-1).mean()"
_RET = "return lam * hard + (1.0 - lam) * T * T * kl"
_ARITH = "torch.stack([softmax_with_temperature(z, T) for z in logits]).mean(dim=0)"
_GEO = "mean_log_p = torch.stack([F.log_softmax(z / T, dim=-1) for z in logits]).mean(dim=0)"
_CALL = "            loss = distillation_loss(student(x), teacher_logits, y, T, lam)"

MUTANTS = [
    # ---------------------------------------------------------------- softmax_with_temperature
    M("multiplies the logits by T", "softmax-with-temperature", ("z = logits / T", "z = logits * T")),
    M("ignores T", "softmax-with-temperature", ("z = logits / T", "z = logits")),
    M("does not subtract the maximum (overflows)", "softmax-with-temperature", (_SM_MAX, "")),
    M("subtracts one global maximum instead of each row's", "softmax-with-temperature",
      (_SM_MAX, "    z = z - z.max()\n")),
    M("normalises over the first dimension", "softmax-with-temperature",
      ("z.max(dim=-1, keepdim=True)", "z.max(dim=0, keepdim=True)"),
      ("e.sum(dim=-1, keepdim=True)", "e.sum(dim=0, keepdim=True)")),
    M("normalises over dim=1 (right only for 2-D input)", "softmax-with-temperature",
      ("z.max(dim=-1, keepdim=True)", "z.max(dim=1, keepdim=True)"),
      ("e.sum(dim=-1, keepdim=True)", "e.sum(dim=1, keepdim=True)")),
    M("accepts T = 0 (checks T < 0)", "softmax-with-temperature", ("if not T > 0:", "if T < 0:")),
    M("modifies the logits in place", "softmax-with-temperature",
      ("    z = logits / T\n" + _SM_MAX,
       "    logits -= logits.max(dim=-1, keepdim=True).values\n    z = logits / T\n")),
    M("calls torch.softmax instead of writing the formula", "softmax-with-temperature",
      ("    z = logits / T\n" + _SM_MAX + "    e = torch.exp(z)\n    return e / e.sum(dim=-1, keepdim=True)",
       "    return torch.softmax(logits / T, dim=-1)")),
    # ---------------------------------------------------------------- distillation_loss
    M("missing the T^2 factor", "distillation-loss", (_RET, "return lam * hard + (1.0 - lam) * kl")),
    M("T instead of T^2", "distillation-loss", (_RET, "return lam * hard + (1.0 - lam) * T * kl")),
    M("lambda on the wrong term", "distillation-loss", (_RET, "return (1.0 - lam) * hard + lam * T * T * kl")),
    M("T applied to the teacher but not the student", "distillation-loss",
      ("F.log_softmax(student_logits / T, dim=-1)", "F.log_softmax(student_logits, dim=-1)")),
    M("softmax instead of log-softmax for the student", "distillation-loss",
      ("log_q_student = F.log_softmax(student_logits / T, dim=-1)", "log_q_student = F.softmax(student_logits / T, dim=-1)")),
    M("KL averaged over all elements instead of the batch", "distillation-loss",
      (_KL, "kl = (p_teacher * (log_p_teacher - log_q_student)).mean()")),
    M("KL summed over the batch", "distillation-loss",
      (_KL, "kl = (p_teacher * (log_p_teacher - log_q_student)).sum()")),
    M("teacher not detached", "distillation-loss", ("    teacher_logits = teacher_logits.detach()\n", "")),
    M("KL in the reverse direction, KL(q_student || p_teacher)", "distillation-loss",
      (_KL, "kl = (log_q_student.exp() * (log_q_student - log_p_teacher)).sum(dim=-1).mean()")),
    M("hard-label cross-entropy on the tempered student logits", "distillation-loss",
      ("hard = F.cross_entropy(student_logits, labels)", "hard = F.cross_entropy(student_logits / T, labels)")),
    M("does not validate lam", "distillation-loss", ("    if not 0.0 <= lam <= 1.0:\n", "    if False:\n")),
    M("accepts T = 0", "distillation-loss", ("    if not T > 0:\n", "    if T < 0:\n")),
    # ---------------------------------------------------------------- logit_matching_loss
    M("no centring", "logit-matching",
      ("    s = student_logits - student_logits.mean(dim=-1, keepdim=True)", "    s = student_logits"),
      ("    t = t - t.mean(dim=-1, keepdim=True)\n", "")),
    M("centres the teacher only", "logit-matching",
      ("    s = student_logits - student_logits.mean(dim=-1, keepdim=True)", "    s = student_logits")),
    M("centres over the batch instead of the classes", "logit-matching",
      ("student_logits.mean(dim=-1, keepdim=True)", "student_logits.mean(dim=0, keepdim=True)"),
      ("t.mean(dim=-1, keepdim=True)", "t.mean(dim=0, keepdim=True)")),
    M("forgets the factor 1/2", "logit-matching", ("return 0.5 * ", "return ")),
    M("averages over the classes too (F.mse_loss's default)", "logit-matching",
      (".sum(dim=-1).mean()", ".mean()")),
    M("sums over the batch", "logit-matching", (".sum(dim=-1).mean()", ".sum()")),
    M("teacher not detached", "logit-matching", ("    t = teacher_logits.detach()", "    t = teacher_logits")),
    M("absolute instead of squared difference", "logit-matching", ("((s - t) ** 2)", "((s - t).abs())")),
    M("no shape check", "logit-matching",
      ("if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:", "if False:")),
    # ---------------------------------------------------------------- ensemble_soft_targets
    M("arithmetic mode averages the logits", "ensemble-soft-targets",
      (_ARITH, "softmax_with_temperature(torch.stack(logits).mean(dim=0), T)")),
    M("geometric mean not renormalised", "ensemble-soft-targets",
      ("return softmax_with_temperature(mean_log_p, 1.0)", "return mean_log_p.exp()")),
    M("geometric mode sums the log-probabilities", "ensemble-soft-targets",
      (_GEO, _GEO.replace(".mean(dim=0)", ".sum(dim=0)"))),
    M("geometric mode ignores T", "ensemble-soft-targets",
      ("F.log_softmax(z / T, dim=-1)", "F.log_softmax(z, dim=-1)")),
    M("unknown mode falls back to arithmetic", "ensemble-soft-targets",
      ('if mode == "arithmetic":', 'if mode != "geometric":')),
    M("no shape check (torch errors instead of ValueError)", "ensemble-soft-targets",
      ("if tuple(z.shape) != shape:", "if False:")),
    M("averages over the class dimension", "ensemble-soft-targets",
      (_ARITH, "torch.stack([softmax_with_temperature(z, T) for z in logits], dim=-1).mean(dim=-2)")),
    M("geometric mode accepts T = 0", "ensemble-soft-targets", ("        if not T > 0:\n", "        if T < 0:\n")),
    M("empty list not rejected", "ensemble-soft-targets", ("    if not logits:\n", "    if False:\n")),
    # ---------------------------------------------------------------- train_student
    M("ignores the teacher (labels only)", "train-student", (_CALL, "            loss = F.cross_entropy(student(x), y)")),
    M("never steps the optimizer", "train-student", ("            optimizer.step()\n", "")),
    M("teacher left in train mode (dropout on)", "train-student", ("        teacher.eval()", "        pass")),
    M("student left in train mode", "train-student", ("    student.eval()\n", "")),
    M("passes 1 - lam as lam", "train-student", (_CALL, _CALL.replace("T, lam)", "T, 1 - lam)"))),
    M("optimizes the teacher's parameters", "train-student",
      ("torch.optim.Adam(student.parameters()", "torch.optim.Adam(teacher.parameters()")),
    M("returns one loss per batch instead of per epoch", "train-student",
      ("            total += float(loss.detach()) * len(y)\n", "            history.append(float(loss.detach()))\n"),
      ("        history.append(total / max(count, 1))\n", "")),
    M("calls the teacher twice per batch (once more to log its accuracy)", "train-student",
      ("                teacher_logits = teacher(x)\n",
       "                teacher_logits = teacher(x)\n                _teacher_hits = (teacher(x).argmax(-1) == y).sum()\n")),
]
