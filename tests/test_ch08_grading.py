"""Chapter 8's grading, proved fair: every named mistake of the exercise notebook gets its
message, correct answers in other styles keep full marks, and shortcuts (racing torch's Adam
under the name myadam, results written by hand, objects that lie about themselves) earn
nothing. The notebook runs in-process (tests/exercise_runner.py); the nbgrader round trip runs
the known-wrong submissions of tests/submissions/ch08_mnist_showdown.py."""

from functools import partial

import pytest

from tests.exercise_runner import assert_full_marks, failing, run_exercises
from tests.submissions.ch08_mnist_showdown import HEAD, MOMENTS, WRONG

CHAPTER = "ch08_mnist_showdown"
# parts 3 and 4: the showdown is slow, and a part-1 or part-2 test does not look at them
SHOWDOWN = {"showdown", "test_showdown_ran", "test_showdown_myadam", "questions",
            "test_best_optimizer", "test_sgd_accuracy_gap", "test_concept_same_start",
            "test_concept_wilson"}

COUNT = '''                state["t"] += 1
'''
HATS = '''                t = state["t"]
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
'''
STEP = "p.sub_(lr * m_hat / (v_hat.sqrt() + eps))"


def adam(body: str = COUNT + MOMENTS + HATS, update: str = STEP, after: str = "",
         head: str = HEAD) -> dict:
    """A MyAdam: the HEAD's state, then ``body``, the ``update`` and ``after`` it."""
    return {"myadam": head + body + f"                {update}\n" + after
            + "        return None\n"}


run = partial(run_exercises, CHAPTER, skip=SHOWDOWN)


def message(outcomes, grade_id):
    assert not outcomes[grade_id].passed, f"{grade_id} passed"
    return outcomes[grade_id].message


# --- correct answers in other styles keep full marks ------------------------------------------

LERP_ADAM = {"myadam": '''class MyAdam(torch.optim.Optimizer):
    """Adam, written another way: lerp_ for m, the step counted per parameter under other
    names, the update through p.data and addcdiv_."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
        self.note = "extra attributes are fine"

    def step(self, closure=None):
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    s = self.state[p]
                    if "count" not in s:
                        s["count"], s["first"], s["second"] = 0, torch.zeros_like(p), \\
                            torch.zeros_like(p)
                    s["count"] += 1
                    b1, b2 = group["betas"]
                    s["first"].lerp_(p.grad, 1 - b1)
                    s["second"].mul_(b2).add_((1 - b2) * p.grad * p.grad)
                    denom = (s["second"] / (1 - b2 ** s["count"])).sqrt() + group["eps"]
                    p.data.addcdiv_(s["first"], denom,
                                    value=-group["lr"] / (1 - b1 ** s["count"]))
'''}

ZERO_GRAD_AT_THE_END = {"train_step": '''def train_step(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss)
'''}

GRAD_SET_TO_NONE = {"train_step": '''def train_step(model, optimizer, x, y):
    for param in model.parameters():
        param.grad = None
    logits = model.forward(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    return loss.detach().item()
'''}

SHOWDOWN_AS_A_LIST = {"showdown": '''names = ["sgd", "momentum", "rmsprop", "adam"]
results = run_showdown(optimizers=names + [("myadam", MyAdam, 0.001)], subset=5000, epochs=2,
                       batch_size=64, progress=False)
'''}

ANSWERS_IN_OTHER_TYPES = {"questions": '''import numpy as np
accuracy = {}
for run in results["runs"]:
    accuracy[run.optimizer] = np.float32(run.epochs[-1].test_accuracy)
best_optimizer = str(max(accuracy, key=lambda name: float(accuracy[name])))
sgd_accuracy_gap = np.float64(accuracy["adam"]) - np.float64(accuracy["sgd"])
answer_same_start = " B "
answer_wilson = "b"
'''}


def test_the_source_earns_full_marks():
    assert_full_marks(CHAPTER, 20)


def test_correct_answers_in_other_styles_keep_full_marks():
    assert_full_marks(CHAPTER, 20, {**LERP_ADAM, **ZERO_GRAD_AT_THE_END,
                                    **SHOWDOWN_AS_A_LIST, **ANSWERS_IN_OTHER_TYPES})


def test_clearing_the_gradients_by_hand_keeps_full_marks():
    outcomes = run(GRAD_SET_TO_NONE)
    assert failing(outcomes) == {}


# --- part 1: MyAdam ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, replace, cells", [
    ("no bias correction", adam(COUNT + MOMENTS, "p.sub_(lr * m / (v.sqrt() + eps))"),
     {"test_myadam_first_step": "without bias correction",
      "test_myadam_eps": "without bias correction",
      "test_myadam_many_steps": "step 1 differs"}),
    ("eps inside the root", adam(update="p.sub_(lr * m_hat / (v_hat + eps).sqrt())"),
     {"test_myadam_first_step": "eps outside the square root",
      "test_myadam_eps": "eps inside the square root: use sqrt(v_hat) + eps"}),
    ("t raised after the correction", adam(MOMENTS + HATS, after=COUNT),
     {"test_myadam_first_step": "add 1 to t before the bias correction"}),
    ("the step along the gradient", adam(update="p.add_(lr * m_hat / (v_hat.sqrt() + eps))"),
     {"test_myadam_first_step": "the step goes along the gradient: subtract it"}),
    ("p rebound, not changed", adam(update="p = p - lr * m_hat / (v_hat.sqrt() + eps)"),
     {"test_myadam_first_step": "the parameters did not move: change p in place"}),
])
def test_myadam_mistakes_are_named(name, replace, cells):
    outcomes = run(replace)
    for grade_id, words in cells.items():
        assert words in message(outcomes, grade_id), (name, grade_id)


SHARED_COUNT = next(w.replace for w in WRONG if w.name == "step_count_shared_by_the_parameters")


def test_a_step_count_shared_by_the_parameters_is_named_in_a_visible_test():
    visible = run(SHARED_COUNT, hidden=False)
    assert visible["test_myadam_first_step"].passed and visible["test_myadam_eps"].passed
    assert "b's first step used t = 2: the step count is shared by all parameters" in message(
        visible, "test_myadam_many_steps")


def test_only_the_first_parameter_updated_gets_the_first_step_hint():
    # `return` one level too deep: the loop ends after each group's first parameter
    only_first = adam(after="                return None\n")
    text = message(run(only_first, hidden=False), "test_myadam_many_steps")
    assert "moves it by about lr against its gradient" in text and "t = 2" not in text


def test_the_lr_of_the_first_group_for_every_group_fails_the_hidden_two_group_test():
    first_group_lr = adam(update='p.sub_(self.param_groups[0]["lr"] * m_hat / '
                                 '(v_hat.sqrt() + eps))')
    assert run(first_group_lr, hidden=False)["test_myadam_many_steps"].passed
    assert "use its group's lr" in message(run(first_group_lr), "test_myadam_many_steps")


def test_betas_fixed_at_their_defaults_fail_the_hidden_first_steps():
    fixed_betas = adam(head=HEAD.replace('beta1, beta2 = group["betas"]',
                                         "beta1, beta2 = 0.9, 0.999"))
    assert run(fixed_betas, hidden=False)["test_myadam_first_step"].passed
    assert "read betas from the parameter's group" in message(run(fixed_betas),
                                                            "test_myadam_first_step")


def test_eps_fixed_at_its_default_fails_the_hidden_eps_test():
    fixed_eps = adam(update="p.sub_(lr * m_hat / (v_hat.sqrt() + 1e-8))")
    assert run(fixed_eps, hidden=False)["test_myadam_eps"].passed
    assert "read eps from the parameter's group" in message(run(fixed_eps), "test_myadam_eps")


def test_a_stateless_adam_passes_one_step_and_fails_many():
    forget = MOMENTS.replace("m.mul_", "m.zero_().mul_").replace("v.mul_", "v.zero_().mul_")
    stateless = adam('                state["t"] = 1\n' + forget + HATS)
    visible = run(stateless, hidden=False)
    assert visible["test_myadam_first_step"].passed and visible["test_myadam_eps"].passed
    assert "keep m and v in self.state[p]" in message(visible, "test_myadam_many_steps")


def test_the_lr_read_once_fails_the_lr_drop():
    lr_once = adam(head=HEAD.replace('lr, eps = group["lr"], group["eps"]',
                                     'lr, eps = self.defaults["lr"], group["eps"]'))
    assert "read group['lr'] at every step" in message(run(lr_once), "test_myadam_many_steps")


# --- part 2: train_step -----------------------------------------------------------------------

def train_step(body: str) -> dict:
    return {"train_step": "def train_step(model, optimizer, x, y):\n" + body}


def test_a_forgotten_zero_grad_is_named():
    forgot = train_step("    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n"
                        "    optimizer.step()\n    return loss.item()\n")
    outcomes = run(forgot)
    assert outcomes["test_train_step"].passed  # one step from fresh gradients is right
    assert "forgotten zero_grad? call optimizer.zero_grad() before loss.backward()" in message(
        outcomes, "test_train_step_zero_grad")


def test_zero_grad_between_backward_and_step_is_named_in_both_tests():
    between = train_step("    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n"
                         "    optimizer.zero_grad()\n    optimizer.step()\n"
                         "    return loss.item()\n")
    outcomes = run(between)
    for grade_id in ("test_train_step", "test_train_step_zero_grad"):
        assert "did not move" in message(outcomes, grade_id)
        assert "not between the two" in message(outcomes, grade_id)


def test_the_loss_as_a_tensor_and_the_loss_after_the_step_are_named():
    tensor = train_step("    optimizer.zero_grad()\n    loss = F.cross_entropy(model(x), y)\n"
                        "    loss.backward()\n    optimizer.step()\n    return loss\n")
    assert "as a Python float (loss.item()), got Tensor" in message(run(tensor),
                                                                    "test_train_step")
    after = train_step("    optimizer.zero_grad()\n    F.cross_entropy(model(x), y).backward()\n"
                       "    optimizer.step()\n    return F.cross_entropy(model(x), y).item()\n")
    assert "of the batch, before the step" in message(run(after), "test_train_step")


# --- parts 3 and 4: the showdown and the questions ---------------------------------------------

PART_1_2 = {"test_myadam_first_step", "test_myadam_eps", "test_myadam_many_steps",
            "test_train_step", "test_train_step_zero_grad"}


def test_showdown_and_question_mistakes_are_named():
    outcomes = run_exercises(CHAPTER, {
        "showdown": 'results = run_showdown(("sgd", "momentum", "rmsprop", "adam", '
                    '("MyAdam", MyAdam, 1e-3)), epochs=2, subset=5000, progress=False)\n',
        "questions": 'best_optimizer = "lion"\nsgd_accuracy_gap = -0.05\n'
                     'answer_same_start = "d"\nanswer_wilson = "a"\n'}, skip=PART_1_2)
    assert "race sgd, momentum, rmsprop, adam and then ('myadam', MyAdam, 1e-3)" in message(
        outcomes, "test_showdown_ran")
    assert outcomes["test_showdown_myadam"].passed  # the trusted race is run by the test
    assert "best_optimizer should be one of ['adam', 'momentum', 'myadam', 'rmsprop', 'sgd'], " \
           "got 'lion'" in message(outcomes, "test_best_optimizer")
    assert "expected sgd_accuracy_gap" in message(outcomes, "test_sgd_accuracy_gap")
    assert "they still end at different accuracies" in message(outcomes,
                                                              "test_concept_same_start")
    assert "the opposite of what they found" in message(outcomes, "test_concept_wilson")


def test_the_reversed_gap_and_a_runner_up_are_named():
    outcomes = run_exercises(CHAPTER, {"questions": '''
final = {r.optimizer: r.final.test_accuracy for r in results["runs"]}
best_optimizer = "sgd"
sgd_accuracy_gap = final["sgd"] - final["adam"]
answer_same_start = "a"
answer_wilson = "c"
'''}, skip=PART_1_2)
    assert "sgd reached" in message(outcomes, "test_best_optimizer")
    assert "that is SGD's minus Adam's" in message(outcomes, "test_sgd_accuracy_gap")
    assert "it costs the same either way" in message(outcomes, "test_concept_same_start")
    assert "they found a gap" in message(outcomes, "test_concept_wilson")


CONCEPTS = {"test_concept_same_start", "test_concept_wilson"}


@pytest.mark.parametrize("same_start, wilson, same_start_words, wilson_words", [
    ("a", "c", "it costs the same either way", "they found a gap, on several tasks"),
    ("c", "d", "PyTorch lets every model start anywhere",
     "SGD with momentum trained every network in their study"),
    ("d", "a", "they still end at different accuracies", "that is the opposite of what they found"),
])
def test_every_wrong_concept_option_is_explained(same_start, wilson, same_start_words,
                                                 wilson_words):
    # the two concept checks read only the letters: no race is run
    outcomes = run_exercises(CHAPTER, {"questions": f'''best_optimizer = "adam"
sgd_accuracy_gap = 0.1
answer_same_start = "{same_start}"
answer_wilson = "{wilson}"
'''}, skip=PART_1_2 | (SHOWDOWN - {"questions"} - CONCEPTS))
    assert set(outcomes) == CONCEPTS
    assert f"{same_start!r} is not right: {same_start_words}" in message(
        outcomes, "test_concept_same_start")
    assert f"{wilson!r} is not right: {wilson_words}" in message(outcomes, "test_concept_wilson")


def test_another_configuration_is_named():
    outcomes = run_exercises(CHAPTER, {"showdown": '''results = run_showdown(
    ("sgd", "momentum", "rmsprop", "adam", ("myadam", MyAdam, 1e-3)), epochs=1, subset=3000,
    progress=False)
'''}, skip=PART_1_2 | (SHOWDOWN - {"showdown", "test_showdown_ran"}))
    assert "use subset=5000, epochs=2" in message(outcomes, "test_showdown_ran")


# --- shortcuts earn nothing -------------------------------------------------------------------

def test_torchs_adam_raced_under_the_name_myadam_does_not_pass():
    outcomes = run_exercises(CHAPTER, {"showdown": '''results = run_showdown(
    ("sgd", "momentum", "rmsprop", "adam", ("myadam", torch.optim.Adam, 1e-3)), epochs=2,
    subset=5000, progress=False)
'''}, skip=PART_1_2 | (SHOWDOWN - {"showdown", "test_showdown_ran"}))
    assert "should race your MyAdam class, got torch.optim.Adam()" in message(
        outcomes, "test_showdown_ran")


MYADAM_IS_TORCHS = {"myadam": '''class MyAdam(torch.optim.Adam):
    pass
'''}
MYADAM_WRAPS_TORCHS = {"myadam": '''class MyAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        params = list(params)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.inner = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)

    def step(self, closure=None):
        for mine, its in zip(self.param_groups, self.inner.param_groups, strict=True):
            its["lr"] = mine["lr"]
        return self.inner.step(closure)
'''}
REFUSED = ("MyAdam calls torch.optim: this exercise asks for its own update, on "
           "torch.optim.Optimizer")


@pytest.mark.parametrize("shortcut", [MYADAM_IS_TORCHS, MYADAM_WRAPS_TORCHS],
                         ids=["a subclass of torch's Adam", "a wrapper of torch's Adam"])
def test_a_myadam_that_is_torchs_adam_earns_nothing_in_part_1(shortcut):
    # both take Adam's steps exactly, and passed every test of MyAdam before torch's
    # optimizers were switched off while it runs
    outcomes = run(shortcut)
    for cell in ("test_myadam_first_step", "test_myadam_eps", "test_myadam_many_steps"):
        assert REFUSED in message(outcomes, cell)


def test_a_myadam_that_is_torchs_adam_does_not_pass_the_showdowns_myadam_test():
    outcomes = run_exercises(CHAPTER, MYADAM_IS_TORCHS, skip=PART_1_2 | (
        SHOWDOWN - {"showdown", "test_showdown_ran", "test_showdown_myadam"}))
    assert outcomes["test_showdown_ran"].passed  # the race is raced as asked
    assert REFUSED in message(outcomes, "test_showdown_myadam")


def test_results_written_by_hand_or_lying_do_not_pass():
    forged = {"showdown": '''class Liar(str):
    def __eq__(self, other):
        return True

    def endswith(self, *args):
        return True


class Run:
    def __init__(self, name):
        self.optimizer, self.optimizer_class, self.status = Liar(name), Liar("x"), "ok"
        self.epochs = []


results = {"runs": [Run(n) for n in ("sgd", "momentum", "rmsprop", "adam", "myadam")],
           "config": {"train_size": 5000, "epochs": 2, "batch_size": 64, "seeds": [0]}}
''', "questions": '''class Anything(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


best_optimizer = Anything(1.0)
sgd_accuracy_gap = Anything(0.5)
answer_same_start = "b"
answer_wilson = "b"
'''}
    outcomes = run_exercises(CHAPTER, forged, skip=PART_1_2)
    # the names pass as text, the class does not, and the numbers are not the race's
    assert "should race your MyAdam class, got x" in message(outcomes, "test_showdown_ran")
    assert "best_optimizer should be text" in message(outcomes, "test_best_optimizer")
    assert "expected sgd_accuracy_gap" in message(outcomes, "test_sgd_accuracy_gap")


def test_a_diverging_myadam_is_reported_by_the_showdown_test():
    late = adam(MOMENTS + HATS, after=COUNT)
    outcomes = run_exercises(CHAPTER, late, skip={"test_myadam_first_step", "test_myadam_eps",
                                                  "test_myadam_many_steps", "test_train_step",
                                                  "test_train_step_zero_grad"})
    assert "a run diverged: myadam" in message(outcomes, "test_showdown_ran")
    assert not outcomes["test_showdown_myadam"].passed
