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


def assert_cli_draws_as_python(folder, flags, tmp_path, capsys, **sample_kw):
    """``sketchkit sample FOLDER -n 3 -t 0.5 FLAGS`` writes what ``model.sample(3, seed 0,
    temperature 0.5, **sample_kw)`` draws; returns those samples."""
    from sketchkit.api import save_samples
    from sketchkit.models.base import load_model

    code, out, err = run_cli(["sample", folder, "-n", "3", "-t", "0.5", *flags, "-o", tmp_path / "a.svg"], capsys)
    assert code == 0 and "wrote 3 sample(s)" in out, err
    expect = load_model(folder).eval().sample(3, generator=torch.Generator().manual_seed(0), temperature=0.5,
                                              **sample_kw)
    save_samples(expect, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()
    return expect


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
    from sketchkit.models.bezier_sketch import BezierSketchConfig, BezierSketchModel

    torch.manual_seed(0)
    config = BezierSketchConfig(min_degree=3, max_degree=3, labels=("apple", "cat"), embed_hidden=8, embed_latent=8,
                                dec_hidden=8, latent_dim=0, num_mixtures=2, max_strokes=3)
    folder = BezierSketchModel(config).save_pretrained(tmp_path / "decoder_only")
    expect = assert_cli_draws_as_python(folder, ["--class", "cat", "--min-class-posterior", "0.9"], tmp_path, capsys,
                                        label="cat", min_class_posterior=0.9)
    assert all("class_posterior" in s.meta for s in expect)
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
    assert_cli_draws_as_python(conditional_bezier, ["--class", "apple", "--component-temperature", "0.1"], tmp_path,
                               capsys, label="apple", component_temperature=0.1)
    for bad in ("0", "-2", "inf"):
        code, _, err = run_cli(["sample", conditional_bezier, "--component-temperature", bad, "-o", tmp_path / "c.svg"],
                               capsys)
        assert code == 2 and err.count("\n") == 1 and "--component-temperature" in err and "> 0" in err, err
    code, _, err = run_cli(["sample", toy, "--component-temperature", "0.1", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not take one" in err, err
    assert not (tmp_path / "c.svg").exists()


def test_best_of_flag_reaches_the_critic_or_names_the_problem(conditional_bezier, toy, tmp_path, capsys):
    from sketchkit.models.base import load_model
    from sketchkit.sketch import Sketch

    model = load_model(conditional_bezier).with_sample_critic(16)
    model.fit_critic([Sketch([[[0, 0], [10, 10], [20, 0]]], label=lab) for lab in ("apple", "cat") * 4],
                     samples=8, epochs=1)
    folder = model.save_pretrained(tmp_path / "critic")
    expect = assert_cli_draws_as_python(folder, ["--class", "cat", "--best-of", "3"], tmp_path, capsys,
                                        label="cat", best_of=3)
    assert all("critic" in s.meta for s in expect)
    code, _, err = run_cli(["sample", folder, "--best-of", "0", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--best-of" in err and "at least 1" in err, err
    for no_critic in (conditional_bezier, toy):
        code, _, err = run_cli(["sample", no_critic, "--best-of", "2", "-o", tmp_path / "c.svg"], capsys)
        assert code == 2 and err.count("\n") == 1 and "has no sample critic" in err, err
    assert not (tmp_path / "c.svg").exists()


def test_max_overdraw_flag_reaches_the_model_or_names_the_problem(conditional_bezier, toy, tmp_path, capsys):
    assert_cli_draws_as_python(conditional_bezier, ["--class", "cat", "--max-overdraw", "0.3"], tmp_path, capsys,
                               label="cat", max_overdraw=0.3)
    for bad in ("-0.1", "1.5"):
        code, _, err = run_cli(["sample", conditional_bezier, "--max-overdraw", bad, "-o", tmp_path / "c.svg"], capsys)
        assert code == 2 and err.count("\n") == 1 and "--max-overdraw" in err and "[0, 1]" in err, err
    code, _, err = run_cli(["sample", toy, "--max-overdraw", "0.3", "-o", tmp_path / "c.svg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "does not take one" in err, err
    assert not (tmp_path / "c.svg").exists()
