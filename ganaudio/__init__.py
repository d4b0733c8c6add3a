"""ganaudio: train convolutional WGANs on short sound clips (and images) and generate new ones.

The public API, importable on any machine (no GPU needed, no side effects):

    from ganaudio import load_recipe, load_dataset, resolve_clip_seconds
    recipe = load_recipe("digits", data_root="path/to/fsdd/recordings")
    recipe = resolve_clip_seconds(recipe)   # features.clip_seconds: auto -> seconds, from the files
    train = load_dataset(recipe)            # (n, 1, n_mels, frames) in [-1, 1] + labels
    features = mel_features(recipe, train)  # encode / decode (the Griffin-Lim fallback)
    made = Synthesizer.from_checkpoint().generate(4, labels="3", seed=0)  # bundled digits model + vocoder
    gl = Synthesizer.from_checkpoint(vocoder="griffin-lim")  # or vocoder="runs/my-vocoder"
    print(evaluate_checkpoint(None, data_root="path/to/fsdd/recordings").table())
"""

from ganaudio.config import Recipe, load_recipe
from ganaudio.data import Dataset, load_dataset, mel_features, resolve_clip_seconds
from ganaudio.errors import UserError
from ganaudio.evaluate import Evaluation, Reference, Scores, evaluate_checkpoint
from ganaudio.features import MelFeatures
from ganaudio.synth import Synthesizer
from ganaudio.vocoder import GriffinLimVocoder, LearnedVocoder, choose_vocoder

__all__ = ["Dataset", "Evaluation", "GriffinLimVocoder", "LearnedVocoder", "MelFeatures", "Recipe", "Reference",
           "Scores", "Synthesizer", "UserError", "choose_vocoder", "evaluate_checkpoint", "load_dataset", "load_recipe", "mel_features",
           "resolve_clip_seconds"]
__version__ = "0.1.0"
