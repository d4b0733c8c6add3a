"""How close can generated clips get through Griffin-Lim? Real held-out clips sent through the
digits features and Griffin-Lim, scored by `ganaudio evaluate`'s classifier, per iteration count,
beside the bundled model's clips made with the same count.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/vocoder_ceiling.py --data ../shared/data/fsdd/recordings

Real held-out clips straight from their files are the reference the table's first row repeats.
"""

from __future__ import annotations

import argparse
import dataclasses

from ganaudio.data import load_dataset
from ganaudio.evaluate import Reference
from ganaudio.features import MelFeatures
from ganaudio.synth import Synthesizer
from ganaudio.vocoder import GriffinLimVocoder, vocode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--iters", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    parser.add_argument("--momentum", type=float, nargs="+", default=[0.99, 0.0])
    args = parser.parse_args()
    synth = Synthesizer.from_checkpoint()
    recipe = dataclasses.replace(synth.recipe, data=dataclasses.replace(synth.recipe.data, root=args.data))
    reference = Reference.for_recipe(recipe)
    test = load_dataset(recipe, "test")
    made = synth.generate(len(test), seed=0, level=False)
    labels = synth.label_indices(None, len(test))
    real = reference.real
    print(f"real held-out from files: accuracy {real.accuracy:.3f}, inception score {real.inception_score:.2f}, "
          f"Frechet distance (train vs held-out) {real.frechet_distance:.2f}")
    print("| momentum | iterations | real via vocoder: accuracy | IS | Frechet distance | generated: accuracy | IS | Frechet distance |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for momentum in args.momentum:
        config = dataclasses.replace(recipe.features, griffin_lim_momentum=momentum)
        features = MelFeatures.from_state_dict(config, synth.vocoder.features.state_dict())
        for iters in args.iters:
            vocoder = GriffinLimVocoder(features, iters)
            vocoded = reference.score(vocode(vocoder, test.samples), test.labels)
            generated = reference.score(vocode(vocoder, made.features), labels)
            print(f"| {momentum} | {iters} | {vocoded.accuracy:.3f} | {vocoded.inception_score:.2f} | "
                  f"{vocoded.frechet_distance:.2f} | {generated.accuracy:.3f} | {generated.inception_score:.2f} | "
                  f"{generated.frechet_distance:.2f} |", flush=True)


if __name__ == "__main__":
    main()
