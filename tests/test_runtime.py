"""Device, precision and process-group decisions (runtime.py)."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from ganaudio.cli import main
from ganaudio.data import load_dataset
from ganaudio.errors import UserError
from ganaudio.losses import gradient_penalty, r1_penalty
from ganaudio.runtime import CpuSyncBatchNorm, cpu_has_native_bf16, resolve_device, sync_batch_norms, use_bf16
from ganaudio.train import Trainer
from tests.test_train import tiny_voice


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu avx512f avx512_bf16 avx512_vnni\n")
    assert cpu_has_native_bf16(cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16x\n")  # a longer flag is not it
    assert not cpu_has_native_bf16(cpuinfo)
    assert not cpu_has_native_bf16(tmp_path / "missing")
    assert not use_bf16(torch.device("cpu"), mixed_precision=False)


def test_penalties_stay_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    critic = lambda x: net(x).squeeze(1)  # noqa: E731
    real, fake, mix = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8), torch.rand(4, 1, 1, 1)
    plain = gradient_penalty(critic, real, fake, mix), r1_penalty(critic, real)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = gradient_penalty(critic, real.bfloat16(), fake.bfloat16(), mix), r1_penalty(critic, real.bfloat16())
    assert all(p.dtype == torch.float32 for p in under)
    # Only the inputs' bf16 rounding differs, not the penalty arithmetic.
    assert all(torch.allclose(u, p, rtol=2e-2) for u, p in zip(under, plain))


def test_trainer_under_bf16_trains_finite_with_fp32_weights(tmp_path):
    recipe = tiny_voice("train.penalty_every=1")
    trainer = Trainer(recipe, load_dataset(recipe), tmp_path)
    trainer.autocast = True  # whatever this CPU has: bf16 runs everywhere, natively or not
    metrics = [trainer.train_step() for _ in range(3)]
    assert all(bool(torch.isfinite(v)) for m in metrics for v in m.values()) and "critic/r1" in metrics[0]
    assert all(p.dtype == torch.float32 for p in (*trainer.state.generator.parameters(), *trainer.state.critic.parameters()))


@pytest.fixture
def one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("shape", [(6, 3, 10), (6, 3, 4, 5)])
def test_cpu_sync_batch_norm_matches_batch_norm_in_one_process(one_process_group, shape):
    torch.manual_seed(0)
    plain = torch.nn.BatchNorm1d(3) if len(shape) == 3 else torch.nn.BatchNorm2d(3)
    torch.nn.init.normal_(plain.weight)
    torch.nn.init.normal_(plain.bias)
    synced = sync_batch_norms(torch.nn.Sequential(plain.__class__(3)), torch.device("cpu"))[0]
    assert isinstance(synced, CpuSyncBatchNorm)
    synced.load_state_dict(plain.state_dict())
    x = (torch.randn(shape) * 3 + 1).requires_grad_(True)
    x_synced = x.detach().clone().requires_grad_(True)
    out, out_synced = plain(x), synced(x_synced)
    assert torch.allclose(out, out_synced, atol=1e-5)
    (out * torch.arange(out.numel()).view(out.shape)).sum().backward()
    (out_synced * torch.arange(out.numel()).view(out.shape)).sum().backward()
    assert torch.allclose(x.grad, x_synced.grad, atol=1e-4)
    assert torch.allclose(plain.weight.grad, synced.weight.grad, atol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.allclose(getattr(plain, name).float(), getattr(synced, name).float(), atol=1e-6), name
    plain.eval(), synced.eval()
    assert torch.allclose(plain(x), synced(x), atol=1e-6)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the answers of a machine without CUDA")
def test_one_device_resolver_for_every_command_without_cuda(capsys, tmp_path):
    assert resolve_device("auto") == resolve_device("cpu") == torch.device("cpu")
    for choice in ("cuda", "cuda:1"):
        with pytest.raises(UserError, match=f"train.device: '{choice}' was asked for but no CUDA device"):
            resolve_device(choice, "train.device")
    with pytest.raises(UserError, match="--device: 'gpu' is not a device name"):
        resolve_device("gpu")
    # The CLI says it in one line, exit code 2, before any work.
    assert main(["synth", "--out", str(tmp_path / "x.wav"), "--device", "tpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "ganaudio: error: --device: 'tpu' is not a device name (auto, cpu, cuda, cuda:1, ...)"
    assert not list(tmp_path.iterdir())
