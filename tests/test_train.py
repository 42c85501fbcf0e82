"""The training engine on the toy family: learning, resume equivalence, atomic checkpoints, errors."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

import sketchkit.train as T
from sketchkit.errors import InputError
from sketchkit.models.base import load_model
from sketchkit.train import NonFiniteLossError, TrainConfig, read_metrics, read_trainer_state, train
from toy_model import Toy2Config, Toy2Model, ToyConfig, ToyModel, load_quickdraw, weights_hash

from conftest import shared_path


@pytest.fixture(scope="module")
def sketches():
    shared_path("quickdraw", "simplified")
    return load_quickdraw(25)  # 8 categories x 25 real drawings


def cfg(**kw) -> TrainConfig:
    base = dict(steps=20, batch_size=8, lr=5e-3, seed=1, device="cpu", quiet=True, val_every=0,
                checkpoint_every=5, num_samples=0, log_every=1)
    base.update(kw)
    return TrainConfig(**base)


def fresh(cls=ToyModel, config=None):
    torch.manual_seed(0)
    return cls(config or cls.config_class())


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_loss_decreases_on_real_quickdraw(sketches, tmp_path):
    model = fresh()
    train(model, sketches[:160], val_sketches=sketches[160:], config=cfg(steps=60, val_every=20), run_dir=tmp_path)
    rec = [r for r in read_metrics(tmp_path) if r["type"] == "train"]
    assert [r["step"] for r in rec] == list(range(1, 61))
    first = sum(r["loss"] for r in rec[:10]) / 10
    last = sum(r["loss"] for r in rec[-10:]) / 10
    assert last < 0.5 * first, (first, last)
    vals = [r["val_loss"] for r in read_metrics(tmp_path) if r["type"] == "val"]
    assert len(vals) == 3 and vals[-1] < vals[0]
    final = [r for r in read_metrics(tmp_path) if r["type"] == "final"]
    assert len(final) == 1 and final[0]["recon_mse"] > 0
    for name in ("last", "best"):
        assert {"config.json", "model.safetensors", "trainer_state.pt"} <= set(os.listdir(tmp_path / name))
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["family"] == "toy" and info["train"]["steps"] == 60 and info["data"]["num_train"] == 160


def test_trainer_state_loads_weights_only_and_records_position(sketches, tmp_path):
    train(fresh(), sketches, config=cfg(steps=7, checkpoint_every=3), run_dir=tmp_path)
    state = torch.load(tmp_path / "last" / "trainer_state.pt", weights_only=True)
    assert state["step"] == 7 and state["stage"] == "main" and state["global_step"] == 7
    assert state["optimizer"]["state"] and set(state["rng"]) >= {"torch", "numpy", "python"}


def test_save_load_round_trip_gives_identical_outputs(sketches, tmp_path):
    model = fresh()
    train(model, sketches[:100], val_sketches=sketches[100:140], config=cfg(steps=10), run_dir=tmp_path)
    loaded = load_model(tmp_path / "last")
    batch = model.collate(sketches[:16], generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(model.loss(batch)["loss"], loaded.loss(batch)["loss"], rtol=0, atol=0)
    assert state_equal(model, loaded)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_equals_uninterrupted_run(sketches, tmp_path, schedule):
    kw = dict(schedule=schedule, warmup_steps=3, checkpoint_every=4)
    toy = ToyConfig(dropout=0.2)  # dropout: the global torch RNG state must be restored too
    straight = fresh(config=toy)
    train(straight, sketches, config=cfg(steps=20, **kw), run_dir=tmp_path / "a")

    # the same run, interrupted by Ctrl-C (SIGINT) during step 10, then resumed
    class Interrupting(ToyModel):
        def loss(self, batch, *, step=0, stage="main"):
            if step == 9:
                os.kill(os.getpid(), signal.SIGINT)
            return super().loss(batch, step=step, stage=stage)

    first = fresh(config=toy)
    first.__class__ = Interrupting
    with pytest.raises(KeyboardInterrupt):
        train(first, sketches, config=cfg(steps=20, **kw), run_dir=tmp_path / "b")
    assert read_trainer_state(tmp_path / "b" / "last")["step"] == 10
    second = fresh(config=toy)
    torch.manual_seed(123)  # the global RNG state is restored from the checkpoint
    train(second, sketches, config=cfg(steps=20, **kw), run_dir=tmp_path / "b", resume=True)
    assert state_equal(straight, second)
    steps = [r["step"] for r in read_metrics(tmp_path / "b") if r["type"] == "train"]
    assert steps == list(range(1, 21))  # no duplicated or missing records after the resume


def test_resume_with_more_steps_equals_longer_constant_run(sketches, tmp_path):
    straight = fresh()
    train(straight, sketches, config=cfg(steps=12), run_dir=tmp_path / "a")
    part = fresh()
    train(part, sketches, config=cfg(steps=6), run_dir=tmp_path / "b")
    resumed = fresh()
    train(resumed, sketches, config=cfg(steps=12), run_dir=tmp_path / "b", resume=True)
    assert state_equal(straight, resumed)
    assert not state_equal(part, resumed)


def test_two_stages_freeze_and_resume_across_the_boundary(sketches, tmp_path):
    kw = dict(stage_steps={"ae": 6, "decoder": 8}, checkpoint_every=3)
    straight = fresh(Toy2Model)
    enc_before = {k: v.clone() for k, v in straight.encoder.state_dict().items()}
    train(straight, sketches, config=cfg(**kw), run_dir=tmp_path / "a")
    ends = [r for r in read_metrics(tmp_path / "a") if r["type"] == "stage_end"]
    assert [(r["stage"], r["step"], r["global_step"]) for r in ends] == [("ae", 6, 6), ("decoder", 8, 14)]
    assert any(not torch.equal(enc_before[k], v) for k, v in straight.encoder.state_dict().items())

    # a crash at the first batch of stage 2 leaves the stage-boundary checkpoint; resume from it
    class CrashInStage2(Toy2Model):
        def collate(self, sketches, *, stage="main", generator=None):
            if stage == "decoder":
                raise RuntimeError("crash at the start of stage 2")
            return super().collate(sketches, stage=stage, generator=generator)

    crashing = fresh(Toy2Model)
    crashing.__class__ = CrashInStage2
    with pytest.raises(RuntimeError, match="stage 2"):
        train(crashing, sketches, config=cfg(**kw), run_dir=tmp_path / "b")
    state = read_trainer_state(tmp_path / "b" / "last")
    assert (state["stage_index"], state["stage"], state["step"]) == (1, "decoder", 0)
    resumed = fresh(Toy2Model)
    train(resumed, sketches, config=cfg(**kw), run_dir=tmp_path / "b", resume=True)
    assert state_equal(straight, resumed)
    with pytest.warns(UserWarning, match="stage 'ae' already finished with 6 steps; it is not re-trained to 9"):
        train(fresh(Toy2Model), sketches, config=cfg(stage_steps={"ae": 9, "decoder": 8}), run_dir=tmp_path / "b",
              resume=True)

    # the encoder is frozen in stage 2; a run stopped mid-stage-2 resumes to the same weights
    part = fresh(Toy2Model)
    train(part, sketches, config=cfg(**kw), run_dir=tmp_path / "c", stages=["ae"])
    assert read_trainer_state(tmp_path / "c" / "last")["stages"] == ["ae"]
    part2 = fresh(Toy2Model)
    train(part2, sketches, config=cfg(stage_steps={"ae": 6, "decoder": 4}, checkpoint_every=2), run_dir=tmp_path / "d")
    assert all(torch.equal(part.encoder.state_dict()[k], v) for k, v in part2.encoder.state_dict().items())
    assert not state_equal(part.decoder, part2.decoder)
    resumed = fresh(Toy2Model)
    train(resumed, sketches, config=cfg(**kw), run_dir=tmp_path / "d", resume=True)
    assert state_equal(straight, resumed)
    assert all(p.requires_grad for p in resumed.parameters())  # flags restored after the stage


@pytest.mark.parametrize("crash_at", ["weights", "trainer_state", "between_renames"])
def test_crash_during_save_keeps_previous_checkpoint(sketches, tmp_path, monkeypatch, crash_at):
    train(fresh(), sketches, config=cfg(steps=4, checkpoint_every=4), run_dir=tmp_path)
    good = weights_hash(load_model(tmp_path / "last"))
    assert read_trainer_state(tmp_path / "last")["step"] == 4

    class Crash(Exception):
        pass

    if crash_at == "between_renames":
        real_replace = os.replace
        calls = []

        def replace(src, dst):
            calls.append(dst)
            if str(dst).endswith("last.old"):
                real_replace(src, dst)
                raise Crash("killed between the two renames")
            return real_replace(src, dst)

        monkeypatch.setattr(T.checkpoints.os, "replace", replace)
    else:
        real_write = T.checkpoints.atomic_write_bytes
        target = "model.safetensors" if crash_at == "weights" else "trainer_state.pt"

        def write(path, data):
            if str(path).endswith(target):
                with open(path, "wb") as f:  # a partial, non-atomic file, then the "kill"
                    f.write(data[: len(data) // 2])
                raise Crash(f"killed while writing {target}")
            return real_write(path, data)

        monkeypatch.setattr(T.checkpoints, "atomic_write_bytes", write)  # where _save_checkpoint looks it up
        monkeypatch.setattr("sketchkit.models.base.atomic_write_bytes", write)
    with pytest.raises(Crash):
        train(fresh(), sketches, config=cfg(steps=8, checkpoint_every=4), run_dir=tmp_path, resume=True)
    monkeypatch.undo()
    if crash_at == "between_renames":
        from sketchkit.api import load

        assert not (tmp_path / "last").exists() and (tmp_path / "last.old").is_dir()
        assert weights_hash(load(tmp_path)) == good  # readers fall back to last.old/ without touching it
    T.recover_checkpoints(tmp_path)  # what every start does
    assert weights_hash(load_model(tmp_path / "last")) == good
    assert read_trainer_state(tmp_path / "last")["step"] == 4
    assert not list(tmp_path.glob(".ckpt-*")) and not (tmp_path / "last.old").exists()
    resumed = fresh()
    train(resumed, sketches, config=cfg(steps=8, checkpoint_every=4), run_dir=tmp_path, resume=True)
    straight = fresh()
    train(straight, sketches, config=cfg(steps=8, checkpoint_every=4), run_dir=tmp_path / "straight")
    assert state_equal(straight, resumed)


def test_nonfinite_loss_stops_naming_the_step_and_keeps_last_good(sketches, tmp_path):
    model = fresh(config=ToyConfig(nan_at_step=7))
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss .* step 7") as info:
        train(model, sketches, config=cfg(steps=20, checkpoint_every=3), run_dir=tmp_path)
    assert info.value.step == 7 and info.value.stage == "main"
    assert read_trainer_state(tmp_path / "last")["step"] == 6
    loaded = load_model(tmp_path / "last")
    assert all(torch.isfinite(t).all() for t in loaded.state_dict().values())


def test_skip_nonfinite_counts_and_continues(sketches, tmp_path):
    model = fresh(config=ToyConfig(nan_at_step=7))
    train(model, sketches, config=cfg(steps=12, skip_nonfinite=True), run_dir=tmp_path)
    skips = [r for r in read_metrics(tmp_path) if r["type"] == "skip"]
    assert [(r["step"], r["what"]) for r in skips] == [(7, "loss")]
    assert read_trainer_state(tmp_path / "last")["skipped"] == 1
    assert all(torch.isfinite(t).all() for t in model.state_dict().values())
    with pytest.raises(NonFiniteLossError, match="max_skipped=0"):
        train(fresh(config=ToyConfig(nan_at_step=2)), sketches,
              config=cfg(steps=5, skip_nonfinite=True, max_skipped=0), run_dir=tmp_path / "x")


def test_run_dir_guards(sketches, tmp_path):
    with pytest.raises(InputError, match="nothing to resume"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path, resume=True)
    train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path)
    with pytest.raises(InputError, match="already holds a 'toy' training run"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path)
    with pytest.raises(InputError, match="model config differs"):
        train(ToyModel(ToyConfig(hidden=16)), sketches, config=cfg(steps=4), run_dir=tmp_path, resume=True)
    with pytest.raises(InputError, match="unknown stage"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path / "s", stages=["nope"])
    with pytest.raises(InputError, match="no training sketches"):
        train(fresh(), [], config=cfg(steps=2), run_dir=tmp_path / "e")


def test_samples_written_at_validation(sketches, tmp_path):
    pytest.importorskip("sketchkit.render")
    train(fresh(), sketches[:100], val_sketches=sketches[100:120],
          config=cfg(steps=10, val_every=5, num_samples=4), run_dir=tmp_path)
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["step_0000005.svg", "step_0000010.svg"]
    assert (tmp_path / "samples" / names[0]).read_text().lstrip().startswith(("<?xml", "<svg"))


def test_lr_schedules_closed_form():
    c = TrainConfig(lr=1.0, warmup_steps=4, schedule="cosine", min_lr_ratio=0.1)
    assert [c.lr_at(s, 104) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert c.lr_at(54, 104) == pytest.approx(0.1 + 0.9 * 0.5, abs=1e-12)
    assert c.lr_at(104, 104) == pytest.approx(0.1, abs=1e-12)
    s = TrainConfig(lr=1.0, schedule="step", lr_step_every=10, lr_gamma=0.5)
    assert [s.lr_at(k, 100) for k in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert TrainConfig(steps=5, epochs=2.5, batch_size=8).steps_for("main", 100) == 32
    assert TrainConfig(steps=5, stage_steps={"a": 3}).steps_for("a", 100) == 3


def test_progress_bar_and_messages_unless_quiet(sketches, tmp_path, capsys):
    train(fresh(), sketches, config=cfg(steps=5, quiet=False), run_dir=tmp_path / "a")
    err = capsys.readouterr().err
    assert "main (1/1)" in err and "5/5" in err and "steps/s" in err
    train(fresh(), sketches, config=cfg(steps=5, quiet=True), run_dir=tmp_path / "b")
    assert capsys.readouterr().err == ""


# -- run folders: nothing the user wrote is ever deleted ------------------------------------------
def test_new_run_refuses_a_non_empty_folder_and_keeps_the_users_files(sketches, tmp_path):
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "keep.txt").write_text("x")
    (tmp_path / "run.json").write_text('{"mine": 1}')
    with pytest.raises(InputError, match="is not empty and is not a sketchkit training run; .*--overwrite"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path)
    # even --overwrite touches only what sketchkit writes: a foreign run.json / best/keep.txt stop it
    with pytest.raises(InputError, match=r"run\.json: not written by a sketchkit run"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path, overwrite=True)
    (tmp_path / "run.json").unlink()
    with pytest.raises(InputError, match=r"best: holds keep\.txt, which sketchkit did not write"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path, overwrite=True)
    assert (tmp_path / "best" / "keep.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]  # nothing written either


def test_overwrite_replaces_only_sketchkit_files(sketches, tmp_path):
    train(fresh(), sketches, config=cfg(steps=4, checkpoint_every=2), run_dir=tmp_path)
    with pytest.raises(InputError, match="already holds a 'toy' training run; continue it .*--resume.*--overwrite"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "favourite.svg").write_text("<svg/>")
    (tmp_path / "samples" / "step_0000002.svg").write_text("<svg/>")  # as an earlier run writes them
    train(fresh(), sketches, config=cfg(steps=3, checkpoint_every=3), run_dir=tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["favourite.svg"]
    info = json.loads((tmp_path / "run.json").read_text())
    assert len(info["history"]) == 1 and info["train"]["steps"] == 3  # a new run, not merged into the old
    steps = [r["step"] for r in read_metrics(tmp_path) if r["type"] == "train"]
    assert steps == [1, 2, 3]  # the old run's metrics are gone, not appended to
    assert read_trainer_state(tmp_path / "last")["step"] == 3


def test_run_folder_of_another_family_or_a_file_is_refused(sketches, tmp_path):
    train(fresh(Toy2Model), sketches, config=cfg(stage_steps={"ae": 2, "decoder": 2}), run_dir=tmp_path / "r")
    with pytest.raises(InputError, match="holds a 'toy2' training run"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path / "r")
    with pytest.raises(InputError, match="the run trains 'toy2', not 'toy'"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path / "r", resume=True)
    (tmp_path / "f").write_text("a file")
    with pytest.raises(InputError, match="exists and is not a folder"):
        train(fresh(), sketches, config=cfg(steps=2), run_dir=tmp_path / "f")


def test_resume_refuses_foreign_files_in_checkpoint_folders(sketches, tmp_path):
    train(fresh(), sketches, config=cfg(steps=2, checkpoint_every=2), run_dir=tmp_path)
    (tmp_path / "last" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"last: holds notes\.txt"):
        train(fresh(), sketches, config=cfg(steps=4), run_dir=tmp_path, resume=True)
    assert (tmp_path / "last" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("content, message", [
    ("{not json", r"run\.json: not valid JSON"),
    ("[1, 2]", r"run\.json: not a sketchkit run description"),
    ("\udcff", r"run\.json: not valid JSON"),
])
def test_corrupt_run_json_on_resume_is_one_line_naming_the_file(sketches, tmp_path, content, message):
    train(fresh(), sketches, config=cfg(steps=2, checkpoint_every=2), run_dir=tmp_path)
    (tmp_path / "run.json").write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(InputError, match=message) as info:
        train(fresh(), sketches, config=cfg(steps=4), run_dir=tmp_path, resume=True)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match=message):
        T.read_run_info(tmp_path)
