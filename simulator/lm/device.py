"""Where and how a model trains: the device, its name, and the numeric choices per device.

Pure except for torch's device queries, so the CUDA path's choices (bf16 autocast, fused
AdamW) are testable on a CPU-only machine.
"""

from __future__ import annotations

from dataclasses import dataclass


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    if not (requested == "cpu" or requested.startswith("cuda")):
        raise ValueError(f"unknown device {requested!r}; use auto, cpu or cuda[:N]")
    return requested


def device_name(device: str) -> str:
    import platform

    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.processor() or platform.machine()})"


@dataclass(frozen=True)
class PrecisionPlan:
    """How a device trains: bf16 autocast and fused AdamW on CUDA, plain fp32 on CPU."""

    autocast: bool
    fused_optimizer: bool
    autocast_dtype: str = "bfloat16"


def precision_plan(device: str) -> PrecisionPlan:
    """The numeric choices for a resolved device name ("cpu", "cuda", "cuda:1"); pure, so the
    CUDA path's choices are testable on a CPU machine."""
    on_cuda = device.startswith("cuda")
    return PrecisionPlan(autocast=on_cuda, fused_optimizer=on_cuda)


def autocast(plan: PrecisionPlan):
    """The forward pass's autocast context for a plan (a no-op where the plan has none)."""
    import torch

    return torch.autocast("cuda", dtype=getattr(torch, plan.autocast_dtype), enabled=plan.autocast)
