"""The optimizers a showdown can race, by name.

Each is a ``torch.optim.Optimizer`` built as ``factory(params, lr=lr, **options)``. The four
built-ins ask torch for its fastest implementation on the device: ``fused=True`` for SGD and
Adam (one kernel for all parameters), and for RMSprop, which has no fused kernel, torch's
default (``foreach`` on a GPU; on a CPU the loop over tensors, which in the showdown's training
step took about 20 % less time than ``foreach=True`` in same-run A/B rounds). Any optimizer can
join: ``register("mine", MyAdam, lr=1e-3)``, or pass
``("mine", MyAdam, 1e-3)`` where a name is expected.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["OptimizerSpec", "REGISTRY", "DEFAULT_OPTIMIZERS", "register", "resolve"]


@dataclass(frozen=True)
class OptimizerSpec:
    """A named optimizer: ``build(params, lr)`` makes it; ``lr`` is its default rate.

    ``elementwise`` says that its step updates every value from that value's own gradient and
    state alone, as torch's SGD, RMSprop and Adam do. The fast trainer may then hand it a
    model's parameters as one flat tensor, and update the models of several runs with one
    object, with the same result as one object per run. An optimizer of unknown make gets the
    four tensors W1, b1, W2, b2 of each model and one object per run (a step count kept on the
    optimizer, shared by all its parameters, would otherwise count the steps of every model).
    """

    name: str
    factory: Callable[..., torch.optim.Optimizer]
    lr: float
    label: str
    options: dict = field(default_factory=dict)
    elementwise: bool = False

    def build(self, params, lr: float) -> torch.optim.Optimizer:
        return self.factory(params, lr=lr, **self.options)

    @property
    def description(self) -> str:
        """What is built, e.g. ``torch.optim.SGD(momentum=0.9, fused=True)``."""
        factory = self.factory
        module = getattr(factory, "__module__", "") or ""
        if module.startswith("torch.optim"):
            module = "torch.optim"
        name = getattr(factory, "__qualname__", None) or repr(factory)
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{module}.{name}({options})" if module else f"{name}({options})"


REGISTRY: dict[str, OptimizerSpec] = {}
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def check_lr(name, lr) -> float:
    """``lr`` as a float, or a ``ValueError`` naming the optimizer when it is not a positive
    finite number."""
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < float("inf"):
        raise ValueError(f"the learning rate of {name} must be a positive number, got {lr!r}")
    return float(lr)


def _check_name(name):
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"an optimizer name is letters, digits, - and _, got {name!r}")


def register(name: str, factory: Callable[..., torch.optim.Optimizer], lr: float,
             label: str | None = None, *, elementwise: bool = False,
             **options) -> OptimizerSpec:
    """Add (or replace) an optimizer under ``name``; ``options`` are passed to ``factory``."""
    _check_name(name)
    if not callable(factory):
        raise TypeError(f"factory must be callable as factory(params, lr=...), got {factory!r}")
    REGISTRY[name] = OptimizerSpec(name, factory, check_lr(name, lr), label or name, options,
                                   elementwise)
    return REGISTRY[name]


def resolve(optimizer) -> OptimizerSpec:
    """A spec from a registered name, a spec, or a ``(name, factory, lr)`` tuple."""
    if isinstance(optimizer, OptimizerSpec):
        return optimizer
    if isinstance(optimizer, tuple) and len(optimizer) == 3:
        name, factory, lr = optimizer
        _check_name(name)
        if not callable(factory):
            raise TypeError(f"the factory of {name} must be callable as factory(params, lr=...),"
                            f" got {factory!r}")
        return OptimizerSpec(name, factory, check_lr(name, lr), name)
    if isinstance(optimizer, str) and optimizer in REGISTRY:
        return REGISTRY[optimizer]
    raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(REGISTRY)} "
                     "(or pass (name, optimizer_class, lr), or register your own)")


register("sgd", torch.optim.SGD, 0.01, "SGD", elementwise=True, fused=True)
register("momentum", torch.optim.SGD, 0.01, "SGD + momentum 0.9", elementwise=True, momentum=0.9,
         fused=True)
register("rmsprop", torch.optim.RMSprop, 1e-3, "RMSprop", elementwise=True)
register("adam", torch.optim.Adam, 1e-3, "Adam", elementwise=True, fused=True)
