"""L2-regularised logistic regression, shared by the metapath model and the validation blend."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_logistic_regression"]


def fit_logistic_regression(x: np.ndarray, y: np.ndarray, penalty: float, max_iter: int = 200,
                            init: tuple[np.ndarray, float] | None = None,
                            tolerance: float | None = None) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by L-BFGS (deterministic, full batch).

    ``x`` stays in float32 when given so (half the memory and time of float64 on the
    metapath model's 100,000-row problems); anything else is fitted in float64. ``init``
    warm-starts from earlier weights (a neighbouring penalty's solution). ``tolerance`` stops
    at that change of the loss between steps (None: L-BFGS's own, 1e-9).
    """
    import torch  # only when fitting: ranking from a bundle never loads torch (0.8 s of a CLI call)

    dtype = torch.float32 if x.dtype == np.float32 else torch.float64
    # Any layout: a column-major slice (the metapath model's features) is used without a copy.
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32 if dtype == torch.float32 else np.float64))
    yt = torch.from_numpy(np.asarray(y)).to(dtype)
    w = torch.zeros(x.shape[1], dtype=dtype) if init is None else torch.tensor(init[0], dtype=dtype)
    b = torch.zeros((), dtype=dtype) if init is None else torch.tensor(init[1], dtype=dtype)
    w.requires_grad_(True)
    b.requires_grad_(True)
    stop = {} if tolerance is None else {"tolerance_change": tolerance}
    optimizer = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe", **stop)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + penalty * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach().numpy().astype(np.float64), float(b.detach())
