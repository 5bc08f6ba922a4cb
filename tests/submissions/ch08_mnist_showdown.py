"""Known-wrong submissions of chapter 8 (the MNIST showdown): 20 points in all.

Points per test cell: test_myadam_first_step 2, test_myadam_eps 2, test_myadam_many_steps 4,
test_train_step 2, test_train_step_zero_grad 2, test_showdown_ran 2, test_showdown_myadam 2,
four questions 1 each. The showdown's test races the student's ``MyAdam`` again, so a broken Adam
also costs ``test_showdown_myadam`` when it changes the training curve (eps inside the root does
not: MNIST's gradients are far above sqrt(eps)), or the showdown when it diverges.
"""

from tests.submissions import Wrong

HEAD = '''class MyAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps = group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if not state:
                    state["t"] = 0
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                m, v = state["m"], state["v"]
'''

MOMENTS = '''                m.mul_(beta1).add_(g, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
'''


def _myadam(body: str) -> dict[str, str]:
    """The MyAdam of HEAD (its state made ready), then ``body``."""
    return {"myadam": HEAD + body}


WRONG = [
    Wrong(
        name="forgotten_zero_grad",
        mistake="train_step never clears the gradients, so each step adds to the last one's",
        replace={"train_step": '''def train_step(model, optimizer, x, y):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
'''},
        score=18.0,
        fails={"test_train_step_zero_grad": "forgotten zero_grad"},
    ),
    Wrong(
        name="adam_without_bias_correction",
        mistake="MyAdam divides m by sqrt(v) without correcting either for the zero start",
        replace=_myadam('''                state["t"] += 1
''' + MOMENTS + '''                p.sub_(lr * m / (v.sqrt() + eps))
        return None
'''),
        score=10.0,
        fails={"test_myadam_first_step": "without bias correction",
               "test_myadam_eps": "without bias correction",
               "test_myadam_many_steps": "step 1 differs",
               "test_showdown_myadam": "follow torch.optim.Adam"},
    ),
    Wrong(
        name="eps_inside_the_root",
        mistake="MyAdam adds eps under the square root: sqrt(v_hat + eps)",
        replace=_myadam('''                state["t"] += 1
                t = state["t"]
''' + MOMENTS + '''                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                p.sub_(lr * m_hat / (v_hat + eps).sqrt())
        return None
'''),
        score=12.0,
        fails={"test_myadam_first_step": "eps outside the square root",
               "test_myadam_eps": "eps inside the square root",
               "test_myadam_many_steps": "eps outside the square root"},
    ),
    Wrong(
        name="step_count_incremented_late",
        mistake="MyAdam corrects the bias with t before adding 1 to it (1 - beta**0 = 0 at first)",
        replace=_myadam('''                t = state["t"]
''' + MOMENTS + '''                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))
                state["t"] = t + 1
        return None
'''),
        score=8.0,
        fails={"test_myadam_first_step": "add 1 to t before the bias correction",
               "test_myadam_eps": "NaN or inf",
               "test_myadam_many_steps": "step 1",
               "test_showdown_ran": "a run diverged: myadam",
               "test_showdown_myadam": "shape"},
    ),
    Wrong(
        name="step_count_shared_by_the_parameters",
        mistake="MyAdam keeps one step count on the optimizer, raised once per parameter",
        replace={"myadam": '''class MyAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.t = 0

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                self.t += 1
                state["m"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
                state["v"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = state["m"] / (1 - beta1**self.t)
                v_hat = state["v"] / (1 - beta2**self.t)
                p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))
'''},
        score=14.0,
        fails={"test_myadam_many_steps": "the step count is shared by all parameters",
               "test_showdown_myadam": "follow torch.optim.Adam"},
    ),
    Wrong(
        name="myadam_is_torchs_adam",
        mistake="MyAdam is a subclass of torch.optim.Adam that adds nothing: Adam's own steps",
        replace={"myadam": '''class MyAdam(torch.optim.Adam):
    pass
'''},
        score=10.0,
        fails={cell: "MyAdam calls torch.optim: this exercise asks for its own update"
               for cell in ("test_myadam_first_step", "test_myadam_eps",
                            "test_myadam_many_steps", "test_showdown_myadam")},
    ),
]
