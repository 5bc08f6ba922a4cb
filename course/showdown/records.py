"""What one run of the showdown is asked to do (``RunSpec``) and what it measured
(``RunResult``, one ``EpochRecord`` per epoch). Both trainers return these; the report and
``results.json`` read them."""

import math
from dataclasses import asdict, dataclass, field

from course.showdown.optimizers import OptimizerSpec
from course.showdown.schedules import check_schedule

__all__ = ["RunSpec", "EpochRecord", "RunResult"]


@dataclass(frozen=True)
class RunSpec:
    """One model to train: its optimizer at rate ``lr``, the seed of its initial weights and
    batch order, and its learning-rate schedule (see ``course.showdown.schedules``)."""

    optimizer: OptimizerSpec
    lr: float
    seed: int = 0
    schedule: str = "constant"

    def __post_init__(self):
        check_schedule(self.schedule)


@dataclass
class EpochRecord:
    epoch: int              # counted from 1
    train_loss: float       # mean cross-entropy on the whole training set, after the epoch
    train_accuracy: float   # ... and its accuracy
    running_loss: float     # mean of the epoch's batch losses, taken while the weights moved
    test_loss: float
    test_accuracy: float
    lr: float               # the rate of the epoch's first step
    seconds: float          # wall time of the epoch, evaluation included

    @property
    def gap(self) -> float:
        """Generalization gap: test loss minus the training loss of the same weights."""
        return self.test_loss - self.train_loss

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.train_loss, self.running_loss,
                                               self.test_loss))


@dataclass
class RunResult:
    """A run's outcome. ``status`` is ``"ok"`` or ``"diverged"``: a run whose loss turned NaN
    or infinite stops at that epoch (``diverged_epoch``), the epoch itself recorded."""

    optimizer: str          # the name it was raced under
    lr: float
    seed: int
    schedule: str
    optimizer_class: str    # what was built, e.g. "torch.optim.Adam(fused=True)"
    status: str = "ok"
    diverged_epoch: int | None = None
    epochs: list[EpochRecord] = field(default_factory=list)
    experiment: str = "race"  # which part of the lab it belongs to (set by the runner)

    @classmethod
    def start(cls, spec: RunSpec) -> "RunResult":
        return cls(spec.optimizer.name, spec.lr, spec.seed, spec.schedule,
                   spec.optimizer.description)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def final(self) -> EpochRecord:
        return self.epochs[-1]

    def add(self, record: EpochRecord) -> bool:
        """Record an epoch of a run still going; mark it diverged when a loss is not finite.
        Returns whether the run goes on."""
        if not self.ok:
            return False
        self.epochs.append(record)
        if not record.finite():
            self.status, self.diverged_epoch = "diverged", record.epoch
        return self.ok

    def to_dict(self) -> dict:
        """JSON-ready: NaN and infinity (not JSON) become ``None``."""
        out = asdict(self)
        out["epochs"] = [{k: v if not isinstance(v, float) or math.isfinite(v) else None
                          for k, v in e.items()} for e in out["epochs"]]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        epochs = [EpochRecord(**{k: math.nan if v is None else v for k, v in e.items()})
                  for e in data["epochs"]]
        return cls(**{**data, "epochs": epochs})
