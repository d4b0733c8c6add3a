"""Training a vocoder (vocoder.py) on a recipe's real clips: its state and step, run by the
shared loop (loop.py) into a run folder (run_folder.py), as the GAN is (train.py).

Each step draws clips from the training split, makes their normalized mels with the recipe's
own features, and teaches the network the clips' true power spectrum. Every `vocoder.eval_every`
steps the held-out clips go through the whole decoder (Griffin-Lim included) and the
multi-resolution STFT distance to the originals picks best.pt. One process: the network is
small enough that a second process would not pay for its synchronisation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganaudio.audio import write_wav
from ganaudio.checkpoint import VOCODER_KIND, load_checkpoint, same_feature_state
from ganaudio.config import Recipe, recipe_from_dict
from ganaudio.data.clips import Clips
from ganaudio.errors import UserError
from ganaudio.evaluate import fixed_subset, round_trip_distances
from ganaudio.features import MelFeatures
from ganaudio.loop import TrainingLoop, apply_update
from ganaudio.plots import spectrogram_grid
from ganaudio.run_folder import RunFolder
from ganaudio.runtime import Shard, resolve_device
from ganaudio.train import what_is_trained_on
from ganaudio.vocoder import GriffinLimVocoder, LearnedVocoder, build_net, spectral_loss, vocode

BEST_BY = "eval/stft_distance"  # lower is better
PROGRESS = {"loss": "vocoder/loss"}  # beside the progress bar
PREVIEW_CLIPS = 4  # real and decoded, side by side, in each preview


class VocoderState:
    """Network, optimizer, RNG and counters of one vocoder training run, and what decoding
    needs besides the weights (`about`: recipe and feature statistics)."""

    def __init__(self, recipe: Recipe, feature_state: dict[str, torch.Tensor], device: torch.device):
        cfg = recipe.vocoder
        self.about = {"recipe": recipe.to_dict(), "recipe_name": recipe.name, "feature_state": feature_state}
        torch.manual_seed(cfg.seed)  # initialisation is the only use of the global RNG
        self.net = build_net(recipe.features, cfg).to(device)
        # Vocos' and HiFi-GAN's betas; fused Adam as the GAN uses it.
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(0.8, 0.99), fused=True)
        self.rng = torch.Generator().manual_seed(cfg.seed)  # which clips each step draws
        self.step = 0
        self.skipped_updates = 0

    def state_dict(self) -> dict[str, Any]:
        return {**self.about, "kind": VOCODER_KIND, "vocoder": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.get_state(), "step": self.step, "skipped_updates": self.skipped_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The inverse of state_dict; KeyError, RuntimeError or ValueError when it does not fit."""
        self.net.load_state_dict(state["vocoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.set_state(state["rng"])
        self.step = int(state["step"])
        self.skipped_updates = int(state.get("skipped_updates", 0))

    def weights(self) -> dict[str, torch.Tensor]:
        return {name: value for name, value in self.net.state_dict().items() if value.is_floating_point()}


class VocoderStep:
    """One update: a batch of training clips -> their mels -> the spectral loss -> Adam."""

    def __init__(self, state: VocoderState, features: MelFeatures, waveforms: torch.Tensor, recipe: Recipe,
                 device: torch.device):
        self.state, self.features, self.waveforms = state, features, waveforms
        self.batch_size, self.on_nan, self.device = recipe.vocoder.batch_size, recipe.vocoder.on_nan, device

    def __call__(self) -> dict[str, torch.Tensor]:
        s = self.state
        picks = torch.randint(len(self.waveforms), (self.batch_size,), generator=s.rng).to(self.device)
        clips = self.waveforms[picks]
        with torch.no_grad():
            mels = self.features.encode(clips)
            base, target = self.features.linear_power(mels), self.features.power_spectrogram(clips)
        loss = spectral_loss(s.net(mels), base, target)
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        apply_update(s.optimizer, loss, s, self.on_nan, Shard(), self.device)
        s.step += 1
        return {"vocoder/loss": loss.detach()}


class VocoderTrainer:
    """One vocoder training run: `state`, `train_step`, `loop` (on vocoder.* settings) and `run`."""

    def __init__(self, recipe: Recipe, clips: Clips, feature_state: dict[str, torch.Tensor], run_dir: Path):
        cfg = recipe.vocoder
        if recipe.data.is_images:
            raise UserError(f"data.source: '{recipe.data.source}' holds images; a vocoder is trained on audio clips")
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.recipe, self.device = recipe, resolve_device(cfg.device, "vocoder.device")
        self.features = MelFeatures.from_state_dict(recipe.features, feature_state)
        is_train = torch.tensor([split == "train" for split in clips.splits])
        heldout = clips.waveforms[~is_train]
        self.heldout = heldout[fixed_subset(len(heldout), cfg.eval_clips)]
        self.state = VocoderState(recipe, feature_state, self.device)
        self.train_step = VocoderStep(self.state, self.features, clips.waveforms[is_train].to(self.device), recipe,
                                      self.device)
        self.run = RunFolder(run_dir, command="train-vocoder")
        self.evaluation_off = None if len(self.heldout) else "no held-out clips (data.holdout_every: 0)"
        if not cfg.eval_every:
            self.evaluation_off = "vocoder.eval_every is 0"
        self.griffin_lim = None  # the fallback decoder's distances on the same clips, once
        self.loop = TrainingLoop(self.state, self.train_step, self.run, cfg, Shard(), self.device,
                                 preview=self.write_preview, evaluate=None if self.evaluation_off else self.score,
                                 best_by=BEST_BY, progress=PROGRESS, kind=VOCODER_KIND)

    @property
    def step(self) -> int:
        return self.state.step

    def fit(self) -> Path:
        """Train up to vocoder.steps (or vocoder.max_minutes) and return the last checkpoint."""
        return self.loop.fit()

    def decode(self, mels: torch.Tensor) -> torch.Tensor:
        """Mels through the network being trained, as synthesis would decode them (eval mode)."""
        self.state.net.eval()
        try:
            return vocode(LearnedVocoder(self.state.net, self.features, self.recipe.vocoder.griffin_lim_iters),
                          mels).cpu()
        finally:
            self.state.net.train()

    def score(self) -> dict[str, float]:
        """Round-trip distances of the held-out clips through the learned decoder, beside
        Griffin-Lim's from the pseudo-inverse (the decoder it replaces) at the same iterations."""
        mels = self.features.encode(self.heldout.to(self.device))
        if self.griffin_lim is None:
            fallback = vocode(GriffinLimVocoder(self.features, self.recipe.vocoder.griffin_lim_iters), mels).cpu()
            self.griffin_lim = round_trip_distances(fallback, self.heldout, self.features)
        learned = round_trip_distances(self.decode(mels), self.heldout, self.features)
        return {**{f"eval/{key}": value for key, value in learned.items()},
                **{f"eval/griffin_lim_{key}": value for key, value in self.griffin_lim.items()}}

    def write_preview(self, step: int) -> None:
        """samples-<step>.png: real and decoded spectrograms in pairs; and their WAVs."""
        clips = self.heldout[:PREVIEW_CLIPS] if len(self.heldout) else self.train_step.waveforms[:PREVIEW_CLIPS].cpu()
        mels = self.features.encode(clips.to(self.device))
        decoded = self.decode(mels)
        stem = self.run.sample_stem(step)
        pairs = torch.stack([mels.cpu(), self.features.encode(decoded)], dim=1).flatten(0, 1)
        spectrogram_grid(pairs, stem.with_suffix(".png"), self.recipe.features,
                         titles=[f"{what} {i}" for i in range(len(clips)) for what in ("real", "vocoder")])
        rate = self.recipe.features.sample_rate
        for index, (real, made) in enumerate(zip(clips, decoded)):
            write_wav(stem.parent / f"{stem.name}-{index}-real.wav", real, rate)
            write_wav(stem.parent / f"{stem.name}-{index}-vocoder.wav", made, rate)

    def resume(self) -> int:
        """Continue from the run folder's newest checkpoint if it fits this recipe and data."""
        found = self.run.checkpoints()
        if not found:
            raise UserError(f"{self.run.path}: no checkpoint to resume from")
        state = load_checkpoint(found[-1], kinds=(VOCODER_KIND,))
        self.check_fits(found[-1], state)
        try:
            self.state.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError) as err:
            raise UserError(f"{found[-1]}: its weights do not fit the vocoder its recipe describes "
                            f"({str(err).splitlines()[0][:120]})") from None
        for group in self.state.optimizer.param_groups:
            group["lr"] = self.recipe.vocoder.lr  # the recipe's, not the one saved
        self.loop.resumed()
        return self.state.step

    def check_fits(self, path: Path, state: dict) -> None:
        saved = recipe_from_dict(state["recipe"], name=state["recipe_name"])
        network = ("width", "blocks", "kernel_size")
        if (any(getattr(saved.vocoder, key) != getattr(self.recipe.vocoder, key) for key in network)
                or (what_is_trained_on(saved.features), saved.data.what_the_data_is())
                != (what_is_trained_on(self.recipe.features), self.recipe.data.what_the_data_is())):
            raise UserError(f"{path}: was trained with other data, feature or vocoder network settings than "
                            f"this recipe; resume with the run's own recipe.yaml")
        if not same_feature_state(state["feature_state"], self.features.state_dict()):
            raise UserError(f"{path}: the data at {self.recipe.data.root or 'its default place'} is not the "
                            f"data this vocoder trained on (other feature statistics)")

