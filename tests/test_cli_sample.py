"""``sketchkit sample``: output kinds and ``--class`` give one-line errors (exit 2) or work."""

from __future__ import annotations

import pytest
import torch

import toy_model  # noqa: F401  (registers the toy family)
from sketchkit.cli.app import main
from toy_model import ToyConfig, ToyModel


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def tiny_bezier(folder, labels):
    from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel

    torch.manual_seed(0)
    config = BezierSketchConfig(min_degree=3, max_degree=3, labels=labels, embed_hidden=8, embed_latent=8,
                                enc_hidden=8, dec_hidden=8, latent_dim=4, num_mixtures=2, max_strokes=3)
    return BezierSketchModel(config).save_pretrained(folder / "model")


@pytest.fixture(scope="module")
def conditional_bezier(tmp_path_factory):
    return tiny_bezier(tmp_path_factory.mktemp("cond"), ("apple", "cat"))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    torch.manual_seed(0)
    return ToyModel(ToyConfig()).save_pretrained(tmp_path_factory.mktemp("toy") / "model")


@pytest.mark.parametrize("name", ["s.gif", "s.jpeg", "grid.SVGZ", "out.txt"])
def test_unsupported_output_extension_is_refused_before_sampling(toy, tmp_path, capsys, name):
    code, _, err = run_cli(["sample", toy, "-n", "2", "-o", tmp_path / name], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "unsupported output type" in err and ".svg" in err and ".png" in err and "folder" in err
    assert not (tmp_path / name).exists()


def test_supported_outputs_still_work(toy, tmp_path, capsys):
    assert run_cli(["sample", toy, "-n", "2", "-o", tmp_path / "g.SVG"], capsys)[0] == 0
    assert (tmp_path / "g.SVG").is_file()
    assert run_cli(["sample", toy, "-n", "2", "-o", tmp_path / "folder"], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == ["sample_000.svg", "sample_001.svg"]
    (tmp_path / "runs.v2").mkdir()  # an existing folder may have a dot in its name
    assert run_cli(["sample", toy, "-n", "1", "-o", tmp_path / "runs.v2"], capsys)[0] == 0
    (tmp_path / "plain").write_text("a file")
    code, _, err = run_cli(["sample", toy, "-n", "1", "-o", tmp_path / "plain"], capsys)
    assert code == 2 and "exists and is not a folder" in err


def test_class_option_draws_the_chosen_class(conditional_bezier, tmp_path, capsys):
    code, out, err = run_cli(["sample", conditional_bezier, "-n", "2", "--class", "cat", "-o", tmp_path / "c.svg"], capsys)
    assert code == 0, err
    assert (tmp_path / "c.svg").is_file() and "wrote 2 sample(s)" in out
    run_cli(["sample", conditional_bezier, "-n", "2", "--class", "cat", "-o", tmp_path / "c2.svg"], capsys)
    assert (tmp_path / "c.svg").read_text() == (tmp_path / "c2.svg").read_text()  # seeded like plain sampling


def test_unknown_class_lists_the_known_ones(conditional_bezier, tmp_path, capsys):
    code, _, err = run_cli(["sample", conditional_bezier, "--class", "dog", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "--class 'dog'" in err and "apple" in err and "cat" in err
    assert not (tmp_path / "c.svg").exists()


def test_class_on_a_model_without_classes(toy, tmp_path, capsys):
    code, _, err = run_cli(["sample", toy, "--class", "cat", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "cannot sample a chosen class" in err, err
    unconditional = tiny_bezier(tmp_path, ())
    code, _, err = run_cli(["sample", unconditional, "--class", "cat", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "unconditional" in err, err


def test_min_class_posterior_redraws_by_the_models_own_posterior(tmp_path, capsys):
    from sketchkit.models.base import load_model
    from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel

    torch.manual_seed(0)
    config = BezierSketchConfig(min_degree=3, max_degree=3, labels=("apple", "cat"), embed_hidden=8, embed_latent=8,
                                dec_hidden=8, latent_dim=0, num_mixtures=2, max_strokes=3)
    folder = BezierSketchModel(config).save_pretrained(tmp_path / "decoder_only")
    args = ["sample", folder, "-n", "3", "--class", "cat", "-t", "0.5", "--min-class-posterior", "0.9"]
    code, out, err = run_cli(args + ["-o", tmp_path / "a.svg"], capsys)
    assert code == 0 and "wrote 3 sample(s)" in out, err
    # the CLI draws what the Python call with the same seed draws
    model = load_model(folder).eval()
    expect = model.sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5, label="cat",
                          min_class_posterior=0.9)
    assert all("class_posterior" in s.meta for s in expect)
    from sketchkit.api import save_samples

    save_samples(expect, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()
    code, _, err = run_cli(["sample", folder, "--min-class-posterior", "1.5", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "[0, 1]" in err, err


def test_min_class_posterior_on_a_model_without_one(conditional_bezier, toy, tmp_path, capsys):
    # a VAE cannot compute its class posterior; the toy family has no such option at all
    code, _, err = run_cli(["sample", conditional_bezier, "--min-class-posterior", "0.9", "-o", tmp_path / "c.svg"],
                           capsys)
    assert code == 2 and err.count("\n") == 1 and "--min-class-posterior" in err and "decoder-only" in err, err
    code, _, err = run_cli(["sample", conditional_bezier, "--class", "cat", "--min-class-posterior", "0.9",
                            "-o", tmp_path / "c.svg"], capsys)  # a valid class: the posterior is what fails
    assert code == 2 and err.startswith("error: --min-class-posterior") and "decoder-only" in err, err
    code, _, err = run_cli(["sample", toy, "--min-class-posterior", "0.9", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "has no class posterior" in err, err
    assert not (tmp_path / "c.svg").exists()


def test_component_temperature_flag_reaches_the_model_or_names_the_problem(conditional_bezier, toy, tmp_path, capsys):
    from sketchkit.api import save_samples
    from sketchkit.models.base import load_model

    args = ["sample", conditional_bezier, "-n", "3", "--class", "apple", "-t", "0.5", "--component-temperature", "0.1"]
    code, out, err = run_cli(args + ["-o", tmp_path / "a.svg"], capsys)
    assert code == 0 and "wrote 3 sample(s)" in out, err
    expect = load_model(conditional_bezier).eval().sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5,
                                                          label="apple", component_temperature=0.1)
    save_samples(expect, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()
    for bad in ("0", "-2", "inf"):
        code, _, err = run_cli(["sample", conditional_bezier, "--component-temperature", bad, "-o", tmp_path / "c.svg"],
                               capsys)
        assert code == 2 and err.count("\n") == 1 and "--component-temperature" in err and "> 0" in err, err
    code, _, err = run_cli(["sample", toy, "--component-temperature", "0.1", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not take one" in err, err
    assert not (tmp_path / "c.svg").exists()
