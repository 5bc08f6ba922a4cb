"""Optimizers in NumPy that take the same steps as ``torch.optim`` (single-tensor, float64).

Every optimizer has one method, ``step(params, grads) -> new_params``: it reads a NumPy array of
parameters and one of gradients (same shape), returns the updated parameters as a new array and
keeps its own state (step count, buffers). The inputs are never modified. ``o.lr`` may be changed
between steps, as a scheduler does with ``param_group["lr"]``.
"""

import numpy as np


def _check_range(name, value, low, high=None, *, open_high=False):
    ok = value >= low and (high is None or (value < high if open_high else value <= high))
    if not ok:
        bound = "" if high is None else (f" and < {high}" if open_high else f" and <= {high}")
        raise ValueError(f"{name} must be >= {low}{bound}, got {value!r}")


class Optimizer:
    """The shared part: input checks, state bound to one parameter shape, weight decay."""

    def __init__(self, lr, weight_decay=0.0):
        _check_range("lr", lr, 0.0)
        _check_range("weight_decay", weight_decay, 0.0)
        self.lr = lr
        self.weight_decay = weight_decay
        self.t = 0  # number of steps taken
        self._shape = None

    def step(self, params, grads):
        p = np.array(params, dtype=float)  # a copy: the caller's array stays as it was
        g = np.asarray(grads, dtype=float)
        if p.shape != g.shape:
            raise ValueError(f"params have shape {p.shape} but grads have shape {g.shape}")
        if self._shape is None:
            self._shape = p.shape
        elif p.shape != self._shape:
            raise ValueError(
                f"this optimizer holds state for shape {self._shape}, got params of shape {p.shape}"
            )
        self.t += 1
        return self._update(p, g)

    def _decayed(self, p, g):
        """L2 weight decay the classic way: add ``weight_decay * p`` to the gradient."""
        return g + self.weight_decay * p if self.weight_decay else g

    def _update(self, p, g):
        raise NotImplementedError


class SGD(Optimizer):
    """SGD with optional (heavy-ball or Nesterov) momentum, dampening and weight decay."""

    def __init__(self, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        _check_range("momentum", momentum, 0.0)
        _check_range("dampening", dampening, 0.0, 1.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening = 0")
        self.momentum, self.dampening, self.nesterov = momentum, dampening, nesterov
        self.buf = None

    def _update(self, p, g):
        g = self._decayed(p, g)
        if self.momentum:
            if self.buf is None:
                self.buf = g.copy()  # the first step takes the gradient undamped, as torch does
            else:
                self.buf = self.momentum * self.buf + (1 - self.dampening) * g
            g = g + self.momentum * self.buf if self.nesterov else self.buf
        return p - self.lr * g


class RMSprop(Optimizer):
    """RMSprop as torch has it: EMA of g² with ``alpha``, ε outside the root, optional
    centering (subtract the squared EMA of g) and momentum on the scaled step."""

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0, centered=False,
                 weight_decay=0.0):
        super().__init__(lr, weight_decay)
        _check_range("alpha", alpha, 0.0, 1.0)
        _check_range("eps", eps, 0.0)
        _check_range("momentum", momentum, 0.0)
        self.alpha, self.eps, self.momentum, self.centered = alpha, eps, momentum, centered
        self.square_avg = self.grad_avg = self.buf = None

    def _update(self, p, g):
        g = self._decayed(p, g)
        if self.square_avg is None:
            self.square_avg = np.zeros_like(p)
            self.grad_avg = np.zeros_like(p)
            self.buf = np.zeros_like(p)
        self.square_avg = self.alpha * self.square_avg + (1 - self.alpha) * g * g
        if self.centered:
            self.grad_avg = self.alpha * self.grad_avg + (1 - self.alpha) * g
            denom = np.sqrt(self.square_avg - self.grad_avg**2) + self.eps
        else:
            denom = np.sqrt(self.square_avg) + self.eps
        if self.momentum:
            self.buf = self.momentum * self.buf + g / denom
            return p - self.lr * self.buf
        return p - self.lr * g / denom


class Adagrad(Optimizer):
    """AdaGrad: divide by the root of the running *sum* of g², so steps only ever shrink."""

    def __init__(self, lr=1e-2, lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0,
                 weight_decay=0.0):
        super().__init__(lr, weight_decay)
        _check_range("lr_decay", lr_decay, 0.0)
        _check_range("eps", eps, 0.0)
        _check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.lr_decay, self.eps = lr_decay, eps
        self.initial_accumulator_value = initial_accumulator_value
        self.sum = None

    def _update(self, p, g):
        g = self._decayed(p, g)
        if self.sum is None:
            self.sum = np.full_like(p, self.initial_accumulator_value)
        self.sum = self.sum + g * g
        lr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        return p - lr * g / (np.sqrt(self.sum) + self.eps)


class Adam(Optimizer):
    """Adam with bias correction; ε is added *outside* the square root; L2 weight decay is added
    to the gradient. ``amsgrad`` keeps the running maximum of v."""

    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(lr, weight_decay)
        beta1, beta2 = betas
        _check_range("betas[0]", beta1, 0.0, 1.0, open_high=True)
        _check_range("betas[1]", beta2, 0.0, 1.0, open_high=True)
        _check_range("eps", eps, 0.0)
        self.betas, self.eps, self.amsgrad = (beta1, beta2), eps, amsgrad
        self.m = self.v = self.v_max = None

    def _update(self, p, g):
        if self.decoupled:
            p = p * (1 - self.lr * self.weight_decay)
        else:
            g = self._decayed(p, g)
        if self.m is None:
            self.m, self.v, self.v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
        beta1, beta2 = self.betas
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        if self.amsgrad:
            self.v_max = np.maximum(self.v_max, self.v)
        v = self.v_max if self.amsgrad else self.v
        m_hat = self.m / (1 - beta1**self.t)
        v_hat = v / (1 - beta2**self.t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay: shrink p by ``(1 - lr * weight_decay)`` before the step."""

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)
