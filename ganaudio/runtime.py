"""Where and how a training run computes: the device, bf16 or fp32, and the processes.

The one place that decides device and dtype. Under `torchrun` (WORLD_SIZE > 1 in the
environment) it joins torch.distributed's process group, Gloo on CPU and NCCL on CUDA, and
`Shard` gives each process its slice of every global batch; otherwise it is one process and
the slice is the whole batch, so the trainer has one code path.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from ganaudio.errors import UserError


def resolve_device(choice: str, option: str = "--device", local_rank: int = 0,
                   local_processes: int = 1) -> torch.device:
    """The one device resolver (training, synthesis, evaluation): `auto` (CUDA when there is
    one), `cpu`, `cuda` or a device name such as `cuda:1`. A bare `cuda` gives the process
    `local_rank` of `local_processes` on this machine its own GPU (torchrun). `option` names
    the setting in errors."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        target = torch.device(choice)
    except RuntimeError:
        raise UserError(f"{option}: {choice!r} is not a device name (auto, cpu, cuda, cuda:1, ...)") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{option}: {choice!r} was asked for but no CUDA device is available")
    if target.type != "cuda" or target.index is not None:
        return target
    if local_processes > torch.cuda.device_count():
        raise UserError(f"torchrun: {local_processes} processes per machine but {torch.cuda.device_count()} "
                        f"CUDA devices; use --nproc_per_node {torch.cuda.device_count()} or fewer")
    return torch.device("cuda", local_rank)


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (AVX512-BF16 or AMX). Elsewhere oneDNN
    emulates bf16 and it is slower than fp32. Read from /proc/cpuinfo because torch has no
    public query for it; other systems (macOS, Windows) train in fp32 on CPU."""
    try:
        flags = cpuinfo.read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def use_bf16(device: torch.device, mixed_precision: bool) -> bool:
    """bf16 autocast for train.mixed_precision where the hardware runs it natively (Ampere or
    newer GPUs; CPUs with AVX512-BF16 or AMX)."""
    if not mixed_precision:
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_has_native_bf16()


@dataclass(frozen=True)
class Shard:
    """This process's place in the run: rank `rank` of `world_size`.

    Every process draws the whole global batch's random numbers (sample indices, latents,
    penalty mixes, augmentations) from the same seeded generator and keeps its own slice, so
    a run sees the same batches at any number of processes and a 2-process run follows the
    1-process one of the same global batch."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes logs, samples and checkpoints."""
        return self.rank == 0

    def local_size(self, global_size: int) -> int:
        if global_size % self.world_size:
            raise UserError(f"train.batch_size: {global_size} does not split evenly over {self.world_size} processes")
        return global_size // self.world_size

    def draw(self, sample: Callable[[tuple[int, ...]], torch.Tensor], count: int, *shape: int) -> torch.Tensor:
        """This process's `count` rows of `sample((world_size * count, *shape))`."""
        drawn = sample((self.world_size * count, *shape))
        return drawn[self.rank * count:(self.rank + 1) * count]

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """Average named scalars over the processes (one all-reduce) and return them as floats:
        the one device sync of a logged step."""
        if not values:
            return {}
        stacked = torch.stack([value.detach().float() for value in values.values()])
        if self.world_size > 1:
            dist.all_reduce(stacked)
            stacked /= self.world_size
        return dict(zip(values, stacked.tolist()))

    def all_true(self, flags: torch.Tensor) -> torch.Tensor:
        """Per position, whether `flags` is true on every process (one all-reduce)."""
        if self.world_size == 1:
            return flags
        values = flags.float()
        dist.all_reduce(values, op=dist.ReduceOp.MIN)
        return values.bool()

    def agree(self, flag: bool, device: torch.device) -> bool:
        """True on every process when it is true on any (a stop decision all must share)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())


def join_process_group(device_choice: str) -> tuple[Shard, torch.device]:
    """Join torchrun's process group when there is one (Gloo on CPU, NCCL on CUDA) and pick
    this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_choice, "train.device", local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if world_size == 1:
        return Shard(), device
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Shard(dist.get_rank(), dist.get_world_size()), device


@contextlib.contextmanager
def local_main_first() -> Iterator[None]:
    """Under torchrun, each machine's first process (LOCAL_RANK 0) fills the caches (downloads,
    features) before the others on it read them, rather than all writing them at once."""
    if not dist.is_initialized():
        yield
        return
    first = int(os.environ.get("LOCAL_RANK", "0")) == 0
    if not first:
        dist.barrier()
    yield
    if first:
        dist.barrier()


def leave_process_group(finished: bool = True) -> None:
    """Leave the process group; after a finished run, all together (a process that left while
    another still wrote its last checkpoint was seen to abort in Gloo's teardown). After an
    error the others may be mid-step, so it leaves alone and torchrun stops the rest."""
    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the global batch of all processes, on CPU.

    torch.nn.SyncBatchNorm refuses CPU tensors (torch 2.11) and Gloo runs on CPU, so this
    is the same computation on torch.distributed.nn's differentiable all-reduce: the mean and
    mean square of every process's slice are averaged, which is what one process would compute
    on the whole batch. Used only for Gloo runs; CUDA runs use torch.nn.SyncBatchNorm."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() not in (3, 4):
            raise ValueError(f"expected a 3-D or 4-D input, got {input.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.dim())]
        local = torch.cat([x.float().mean(dims), x.float().pow(2).mean(dims)])
        mean, mean_square = (all_reduce(local) / dist.get_world_size()).chunk(2)
        var = (mean_square - mean.pow(2)).clamp_min(0)  # rounding can take it just below 0
        with torch.no_grad():
            count = x.numel() // x.shape[1] * dist.get_world_size()
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
            self.num_batches_tracked += 1
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = (self.weight * torch.rsqrt(var + self.eps)).view(shape)
        return ((x.float() - mean.view(shape)) * scale + self.bias.view(shape)).to(x.dtype)


def sync_batch_norms(module: nn.Module, device: torch.device) -> nn.Module:
    """Make every batch norm of `module` normalise over the global batch of all processes."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if child.momentum is None or not child.affine or not child.track_running_stats:
                raise ValueError(f"{name}: CpuSyncBatchNorm needs affine batch norm with running statistics and a momentum")
            synced = CpuSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                      child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced.to(child.weight.device))
        else:
            sync_batch_norms(child, device)
    return module
