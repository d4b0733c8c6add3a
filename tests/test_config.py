"""Recipes: typed loading, every rejection names the key's full path, overrides, bases."""

from __future__ import annotations

import pytest
import yaml

from ganaudio.config import RECIPES_DIR, load_recipe, recipe_from_dict
from ganaudio.errors import UserError


def write_recipe(tmp_path, content: dict, name: str = "r.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.parametrize("name", ["voice", "digits", "digits-gpu", "mnist", "sounds", "drums"])
def test_bundled_recipes_load_by_name_and_path(name):
    by_name = load_recipe(name)
    by_path = load_recipe(RECIPES_DIR / f"{name}.yaml")
    assert by_name == by_path
    assert by_name.name == name


def test_digits_recipe_gives_64_by_64_mels():
    features = load_recipe("digits").features
    assert (features.n_mels, features.frames, features.sample_rate) == (64, 64, 8000)


@pytest.mark.parametrize("raw, message", [
    ({"features": {"n_mel": 64}}, "features.n_mel: unknown key"),
    ({"features": {"n_mels": "lots"}}, "features.n_mels: must be an integer"),
    ({"features": {"n_mels": True}}, "features.n_mels: must be an integer"),
    ({"features": {"hop_length": -1}}, "features.hop_length: must be positive"),
    ({"features": {"clip_seconds": 0}}, "features.clip_seconds: must be positive"),
    ({"features": {"n_fft": 256, "n_mels": 200}}, "features.n_mels: must be <= n_fft/2+1 = 129"),
    ({"features": {"fmax": 9000}}, "features.fmax: must be <= sample_rate/2"),
    ({"features": {"fmin": 5000, "fmax": 3000}}, "features.fmin"),
    ({"features": {"griffin_lim_momentum": 1.5}}, "features.griffin_lim_momentum"),
    ({"data": {"source": "tape"}}, "data.source: must be one of"),
    ({"data": {"labels": "pattern"}}, "data.label_pattern: required"),
    ({"data": {"labels": "pattern", "label_pattern": "(["}}, "data.label_pattern: not a regular expression"),
    ({"data": {"peak_db": 3}}, "data.peak_db"),
    ({"data": "fsdd"}, "data: must be a mapping"),
    ({"model": {"widht": 4}}, "model.widht: unknown key"),
    ({"model": {"kernel_size": 4}}, "model.kernel_size: must be odd"),
    ({"train": {"beta1": 1.0}}, "train.beta1"),
    ({"train": {"loss": "lsgan"}}, "train.loss: must be one of"),
    ({"optimizer": {}}, "optimizer: unknown recipe section"),
    ({"data": {"source": "mnist"}, "features": {"kind": "mel"}}, "features.kind: retired, data.source decides"),
    ({"features": {"kind": "image"}}, "features.kind: retired"),
])
def test_rejections_name_the_key(raw, message):
    with pytest.raises(UserError, match=None) as caught:
        recipe_from_dict(raw)
    assert message in str(caught.value)


def test_mel_filterbank_that_cannot_be_inverted_is_rejected():
    """At 8 kHz, n_fft 256 and 64 mels the low filters share bins and lstsq fails."""
    with pytest.raises(UserError, match=r"features.n_mels: 64 mel bins are too many .* rank 62"):
        recipe_from_dict({"features": {"n_fft": 256, "hop_length": 64, "n_mels": 64}})
    recipe_from_dict({"features": {"n_fft": 256, "hop_length": 64, "n_mels": 40}})


def test_set_overrides_parse_values_and_are_checked():
    recipe = load_recipe("digits", ["features.n_mels=32", "features.fmax=null", "data.peak_db=-3"])
    assert recipe.features.n_mels == 32 and recipe.features.fmax is None and recipe.data.peak_db == -3.0
    assert load_recipe("digits", ["train.lr_critic=2e-4"]).train.lr_critic == 2e-4  # YAML 1.1 reads this as a string
    with pytest.raises(UserError, match="features.n_mels: must be an integer"):
        load_recipe("digits", ["features.n_mels=many"])
    with pytest.raises(UserError, match="features.nmels: unknown key"):
        load_recipe("digits", ["features.nmels=32"])
    with pytest.raises(UserError, match="expected section.key=value"):
        load_recipe("digits", ["n_mels=32"])


def test_data_flag_sets_root_and_switches_voice_to_folder(tmp_path):
    assert load_recipe("digits", data_root=str(tmp_path)).data.root == str(tmp_path)
    voice = load_recipe("voice", data_root=str(tmp_path))
    assert voice.data.source == "folder" and voice.data.root == str(tmp_path)
    assert load_recipe("voice").data.source == "synthetic-voice"


def test_base_recipe_is_merged_and_changed_by_one_line(tmp_path):
    write_recipe(tmp_path, {"data": {"source": "fsdd"}, "features": {"n_mels": 40, "n_fft": 512}}, "base.yaml")
    child = write_recipe(tmp_path, {"base": "base.yaml", "features": {"n_mels": 32}}, "child.yaml")
    recipe = load_recipe(child)
    assert recipe.features.n_mels == 32 and recipe.data.source == "fsdd" and recipe.name == "child"


def test_base_loop_and_missing_file_are_user_errors(tmp_path):
    write_recipe(tmp_path, {"base": "b.yaml"}, "a.yaml")
    write_recipe(tmp_path, {"base": "a.yaml"}, "b.yaml")
    with pytest.raises(UserError, match="loop"):
        load_recipe(tmp_path / "a.yaml")
    with pytest.raises(UserError, match=r"recipe file not found \(bundled recipes, by name: .*\bvoice\b"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("data: [unclosed")
    with pytest.raises(UserError, match="cannot read recipe"):
        load_recipe(tmp_path / "broken.yaml")


def test_resolved_recipe_round_trips_through_yaml(tmp_path):
    recipe = load_recipe("digits", ["features.n_mels=32"])
    path = write_recipe(tmp_path, yaml.safe_load(recipe.to_yaml()), "digits.yaml")
    assert load_recipe(path) == recipe


def test_with_data_root_reads_like_the_data_option():
    from ganaudio.config import with_data_root

    voice = with_data_root(load_recipe("voice"), "my/clips")
    assert (voice.data.source, voice.data.root) == ("folder", "my/clips")  # as `voice.yaml --data my/clips`
    digits = with_data_root(load_recipe("digits"), "fsdd/recordings")
    assert (digits.data.source, digits.data.root) == ("fsdd", "fsdd/recordings")
    assert digits.model == load_recipe("digits").model


def test_retired_keys_that_say_what_is_implied_still_load():
    """Checkpoints and recipes written before features.kind and output.dir were retired hold
    them (the bundled digits.pt did until 2026-12-04); they load and mean what they meant."""
    old = {"data": {"source": "mnist"}, "features": {"kind": "image"}, "output": {"dir": "runs/x", "grid_samples": 9}}
    recipe = recipe_from_dict(old)
    assert recipe.data.is_images and recipe.output.grid_samples == 9
    assert not recipe_from_dict({"features": {"kind": "mel"}}).data.is_images
    assert old["features"] == {"kind": "image"}  # the caller's dict (a checkpoint's) is not changed


def test_a_recipe_file_that_names_its_run_folder_is_refused(tmp_path):
    """output.dir in a YAML file would be silently ignored now (--out names the folder): refused."""
    path = tmp_path / "mine.yaml"
    path.write_text("base: " + str(RECIPES_DIR / "voice.yaml") + "\noutput:\n  dir: runs/mine\n")
    with pytest.raises(UserError, match="mine.yaml: output.dir is retired; name the run folder with --out DIR"):
        load_recipe(path)
    with pytest.raises(UserError, match="voice.yaml: output.dir is retired"):
        load_recipe("voice", ["output.dir=runs/mine"])  # nor through --set
