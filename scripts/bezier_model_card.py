"""Write ``MODEL_CARD.md`` of the shipped class-conditional BézierSketch from its run and judge numbers.

Usage::

    python scripts/bezier_model_card.py --run RUN --embedder-run EMB_RUN --bench bench_quality.json \\
        --out sketchkit/pretrained/bezier/MODEL_CARD.md

Every number in the card comes from the run folders (``metrics.jsonl``, ``run.json``) and the JSON
written by ``scripts/bench_quality.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sketchkit.models.base import load_model
from sketchkit.train import read_metrics


def _span_minutes(run: Path) -> float:
    recs = [r for r in read_metrics(run) if r.get("type") == "train"]
    steps = [r for r in recs if "steps_per_s" in r]
    return sum(100.0 / r["steps_per_s"] for r in steps) / 60.0 if steps else float("nan")


def _last(run: Path, kind: str) -> dict:
    recs = [r for r in read_metrics(run) if r.get("type") == kind]
    return recs[-1] if recs else {}


def _decoder_words(c) -> str:
    if c.decoder == "transformer":
        return f"causal transformer (width {c.dec_hidden}, {c.dec_layers} blocks, {c.dec_heads} heads)"
    return f"LSTM {c.dec_hidden}"


def _start_words(c) -> str:
    if c.token_head == "joint":
        return ""
    return f"; each curve's start point first, from its own {c.start_mixtures}-component 2-D mixture"


def _critic_words(model, command: str) -> str:
    if getattr(model, "critic", None) is None:
        return ""
    k = model.critic.config
    return f"""- Sample critic (`sketchkit.models.sample_critic`): a {k.size} px CNN with a "real" and a "generated"
  output per class, fitted after the generator on the train split's drawings (as their own curve
  tokens, so rendering is no cue) against the generator's samples at the demo setting
  (`{command}`). `best_of=k` (`--best-of k`) draws each sketch k times and keeps the draw it rates
  most like real drawings of the class (best-of-k discriminator rejection sampling).
"""


def _hist(h: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(h.items(), key=lambda kv: int(kv[0])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--embedder-run", type=Path, required=True)
    ap.add_argument("--bench", type=Path, required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--notes", default="")
    ap.add_argument("--model", type=Path, default=None, help="the shipped model folder (default: RUN/last)")
    ap.add_argument("--critic-command", default="", help="the command that fitted the sample critic, if any")
    ap.add_argument("--demo", default="--temperature 0.15 --min-class-posterior 0.999 --best-of 8",
                    help="sampling flags of the demo setting, as given to `sketchkit sample`")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    model = load_model(args.model or args.run / "last")
    c = model.config
    bench = json.loads(args.bench.read_text())
    info = json.loads((args.run / "run.json").read_text())
    rows = "\n".join(
        f"| {r['row']} | {r.get('acc', float('nan')):.3f} | {r['conf']:.3f} | {r['FD']:.1f} | {r['prec']:.3f} | "
        f"{r['rec']:.3f} | {r['C2ST']:.3f} | {r['strokes']:.2f} |" for r in bench["rows"])
    hists = "\n".join(f"- {r['row']}: {_hist(r['stroke_hist'])}" for r in bench["rows"] if "T=" in r["row"])
    per_class = ""
    best = [r for r in bench["rows"] if "acc_per_class" in r and "T=" in r["row"]]
    if best:
        r = max(best, key=lambda r: r["acc"])
        per_class = f"Per-class recognition at {r['row'].split()[-1]}: " + ", ".join(
            f"{k} {v:.2f}" for k, v in r["acc_per_class"].items())
    val_gen = _last(args.run, "val")
    n_params = sum(p.numel() for p in model.parameters())
    card = f"""# BézierSketch, class-conditional Quick, Draw! (sketchkit shipped model `bezier`)

BézierSketch (Das et al., ECCV 2020) adapted for class-conditional generation: a BiLSTM stroke
embedder turns each stroke into Bézier curves, and an autoregressive generator, conditioned on
the class, draws a sketch as a sequence of degree-{c.max_degree} curve tokens.

- Strokes are cut into gentle pieces (at corners over {c.split_angle:g} degrees, and wherever the
  turning since the last cut passes {c.split_turn:g} degrees); pieces of one stroke stay one pen
  stroke through a "next token continues" bit, and a sample's `meta["stroke_ids"]` says which
  curves form one stroke.
- Generator: {_decoder_words(c)}, decoder-only (`latent_dim = {c.latent_dim}`), conditioned on a
  {c.class_dim}-dim class embedding; token head `{c.token_head}` ({c.num_mixtures}-component mixture over each
  curve{_start_words(c)}) plus stop and continue bits; dropout {c.dropout:g}, input noise
  {c.input_noise:g}, canvas grid {c.canvas_grid}, random scale {c.random_scale:g} and rotation {c.random_rotate:g} degrees.
{_critic_words(model, args.critic_command)}- Classes ({len(model.labels)}): {", ".join(model.labels)}.
- Demo setting: `sketchkit sample bezier --class pig -n 16 {args.demo} -o pigs.svg`
  (the Python call takes the same options as keywords: `model.sample(n, generator=g, label="pig", ...)`).

## Data
SPG (Li et al., "Universal Sketch Perceptual Grouping", ECCV 2018): Quick, Draw! drawings of 19
categories x 700, from github.com/sYeaLumin/SketchGNN (`../shared/data/quickdraw/spg/`).
Split by `sketchkit.data.splits.split_sketches` (hash of `key_id`): {info['data'].get('train', '?')}
train, {info['data'].get('valid', '?')} valid; the test split (1332 drawings) was used only by the judge.
Licence: Quick, Draw! by Google, CC BY 4.0; the weights are shared under CC BY 4.0 with that
attribution.

## Training
`{args.command}` (CPU, 1 thread, through `sketchkit.train.train`).
- embedder stage: run `{args.embedder_run}` ({_span_minutes(args.embedder_run):.0f} min)
- generator stage: {info['train'].get('stage_steps', {}).get('generator', '?')} steps, batch {info['train']['batch_size']},
  Adam lr {info['train']['lr']} cosine, grad clip {info['train']['grad_clip']}, seed {info['train']['seed']}
  ({_span_minutes(args.run):.0f} min on a shared 2-core machine)
- validation at the end: loss {val_gen.get('val_loss', float('nan')):.3f} (token NLL {val_gen.get('val_nll', float('nan')):.3f}, stop/continue bits {val_gen.get('val_stop', float('nan')):.3f})
{args.notes}

## Judge numbers (`scripts/bench_quality.py`)
A CNN judge trained on the train split (32 px rasters) recognises held-out test drawings with
accuracy **{bench['judge_test_accuracy']:.3f}**. Each row: {bench['rows'][-1]['n']} sketches; acc = recognised as the
class asked for; conf = that, with probability >= 0.9; FD = Fréchet distance to the test
drawings in the judge's feature space; prec/rec = k-NN precision/recall; C2ST = accuracy of a
fresh CNN telling the row from the test drawings (0.5 = indistinguishable); strokes = pen strokes
per sketch (test drawings: {bench['test_strokes_mean']:.2f}).

| row | acc | conf>=0.9 | FD | prec | rec | C2ST | strokes |
|---|---|---|---|---|---|---|---|
{rows}

{per_class}

Stroke-count histograms (strokes: sketches); test drawings: {_hist(bench['test_stroke_hist'])}
{hists}

Reconstruction: not available — the shipped generator is decoder-only (no encoder); see the
README for the VAE variant that was measured and not shipped.

## Model
{n_params:,} parameters (float32 safetensors). Samples are in the unit-box frame (y down).
"""
    args.out.write_text(card)
    print(card)


if __name__ == "__main__":
    main()
