"""The optimizers a showdown can race, by name, and the fast updates of the built-ins.

Any ``torch.optim.Optimizer`` can join: ``register("mine", MyAdam, lr=1e-3)`` takes a factory
called as ``factory(params, lr=lr)`` (a class, or ``functools.partial`` of one). The four
built-ins also carry a *fused* update, applied to one model's parameters as one flat tensor (its
row of the stack, whose zero padding stays zero: its gradient is always zero). SGD, momentum and
Adam call the kernels of ``torch.optim.SGD(fused=True)`` and ``Adam(fused=True)``: one pass over
memory where the default implementation makes five to seven. RMSprop has no fused kernel; its
update is the default implementation's arithmetic, operation for operation. Either way this
skips the per-tensor Python work of ``Optimizer.step``, and a test checks each update against
``torch.optim``.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["OptimizerSpec", "REGISTRY", "DEFAULT_OPTIMIZERS", "register", "resolve"]


class _FusedSGD:
    """``torch.optim.SGD(fused=True)``'s step: like the default one, the first momentum step
    sets the buffer to the gradient, undamped."""

    def __init__(self, param, grad, lr, momentum=0.0):
        self.params, self.grads, self.lr, self.momentum = [param], [grad], lr, momentum
        self.buffers = [torch.empty_like(param)] if momentum else []
        self.first_step = True

    def step(self):
        torch._fused_sgd_(self.params, self.grads, self.buffers, weight_decay=0.0,
                          momentum=self.momentum, lr=self.lr, dampening=0.0, nesterov=False,
                          maximize=False, is_first_step=self.first_step)
        self.first_step = False


class _FusedRMSprop:
    def __init__(self, param, grad, lr, alpha=0.99, eps=1e-8):
        self.param, self.grad, self.lr, self.alpha, self.eps = param, grad, lr, alpha, eps
        self.square_avg = torch.zeros_like(param)

    def step(self):
        g = self.grad
        self.square_avg.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
        self.param.addcdiv_(g, self.square_avg.sqrt().add_(self.eps), value=-self.lr)


class _FusedAdam:
    """``torch.optim.Adam(fused=True)``'s step, bias correction included."""

    def __init__(self, param, grad, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.grads, self.lr, self.betas, self.eps = [param], [grad], lr, betas, eps
        self.exp_avgs, self.exp_avg_sqs = [torch.zeros_like(param)], [torch.zeros_like(param)]
        # the step count stays a tensor on the device, as torch keeps it: no host sync on CUDA
        self.steps = [torch.zeros((), dtype=torch.float32, device=param.device)]

    def step(self):
        torch._foreach_add_(self.steps, 1)
        torch._fused_adam_(self.params, self.grads, self.exp_avgs, self.exp_avg_sqs, [],
                           self.steps, amsgrad=False, lr=self.lr, beta1=self.betas[0],
                           beta2=self.betas[1], weight_decay=0.0, eps=self.eps, maximize=False)


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer: ``factory(params, lr=lr)`` builds it; ``lr`` is its default rate."""

    name: str
    factory: Callable[..., torch.optim.Optimizer]
    lr: float
    label: str
    fused: Callable | None = None  # fused(param, grad, lr) -> object with .lr and .step()


REGISTRY: dict[str, OptimizerSpec] = {}
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def register(name: str, factory: Callable[..., torch.optim.Optimizer], lr: float,
             label: str | None = None, *, fused: Callable | None = None) -> OptimizerSpec:
    """Add (or replace) an optimizer under ``name``; returns its spec."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"an optimizer name is letters, digits, - and _, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable as factory(params, lr=...), got {factory!r}")
    _check_lr(name, lr)
    REGISTRY[name] = OptimizerSpec(name, factory, float(lr), label or name, fused)
    return REGISTRY[name]


def _check_lr(name, lr):
    if not isinstance(lr, int | float) or not lr > 0 or lr == float("inf"):
        raise ValueError(f"the learning rate of {name} must be a positive number, got {lr!r}")


def resolve(optimizer) -> OptimizerSpec:
    """A spec from a registered name, a spec, or a ``(name, factory, lr)`` tuple."""
    if isinstance(optimizer, OptimizerSpec):
        return optimizer
    if isinstance(optimizer, tuple) and len(optimizer) == 3:
        name, factory, lr = optimizer
        _check_lr(name, lr)
        return OptimizerSpec(name, factory, float(lr), name)
    if isinstance(optimizer, str) and optimizer in REGISTRY:
        return REGISTRY[optimizer]
    raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(REGISTRY)} "
                     "(or pass (name, factory, lr) / register your own)")


register("sgd", torch.optim.SGD, 0.01, "SGD", fused=_FusedSGD)
register("momentum", functools.partial(torch.optim.SGD, momentum=0.9), 0.01,
         "SGD + momentum 0.9", fused=functools.partial(_FusedSGD, momentum=0.9))
register("rmsprop", torch.optim.RMSprop, 1e-3, "RMSprop", fused=_FusedRMSprop)
register("adam", torch.optim.Adam, 1e-3, "Adam", fused=_FusedAdam)
