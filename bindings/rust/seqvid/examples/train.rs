//! Train a composite LSTM model (SR15) from Rust and watch the losses fall.
//!
//!     cargo run --offline --release --example train -- [--steps N] [--hidden H]
//!         [--mnist DIR] [--save FILE]
//!
//! By default the data are synthetic: 16x16 frames of a 4x4 square bouncing off the walls,
//! made here in Rust and handed to the library without copying (Batch::wrap). With
//! `--mnist DIR` (a folder with train-images-idx3-ubyte[.gz], e.g. the one
//! examples/setup-mnist.sh fills) the library's Moving MNIST generator makes 64x64 sequences
//! of one digit instead. Either way a fixed validation set is scored every so often with
//! the decoders fed as at inference, and the last prediction is drawn as ASCII art.
use std::path::PathBuf;
use std::process::ExitCode;

use seqvid::{
    Batch, Digits, Eval, Kind, MmnistKey, Model, MovingMnist, Optimizer, OptimizerKey,
    OptimizerKind,
};

const K: usize = 5; // frames read
const M: usize = 5; // frames predicted

struct Args {
    steps: usize,
    hidden: usize,
    batch: usize,
    mnist: Option<PathBuf>,
    save: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        steps: 1500,
        hidden: 64,
        batch: 16,
        mnist: None,
        save: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--steps" => a.steps = value()?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--hidden" => a.hidden = value()?.parse().map_err(|e| format!("--hidden: {e}"))?,
            "--batch" => a.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--mnist" => a.mnist = Some(value()?.into()),
            "--save" => a.save = Some(value()?.into()),
            "-h" | "--help" => {
                return Err(
                    "usage: train [--steps N] [--hidden H] [--batch S] [--mnist DIR] [--save FILE]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(a)
}

/// Sequences of a 4x4 square bouncing in a side x side frame, time-major, into `out`.
struct Bouncing {
    side: usize,
    state: u64, // a small xorshift generator: the example needs no crates
}

impl Bouncing {
    fn uniform(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn fill(&mut self, out: &mut [f32], n_steps: usize, n_seqs: usize) {
        let (side, sq) = (self.side, 4usize);
        let range = (side - sq) as f64;
        out.fill(0.0);
        for s in 0..n_seqs {
            let (mut y, mut x) = (self.uniform() * range, self.uniform() * range);
            let theta = self.uniform() * std::f64::consts::TAU;
            let (mut vy, mut vx) = (1.5 * theta.sin(), 1.5 * theta.cos());
            for t in 0..n_steps {
                for (p, v) in [(&mut y, &mut vy), (&mut x, &mut vx)] {
                    *p += *v;
                    if *p < 0.0 || *p > range {
                        *v = -*v;
                        *p = p.clamp(0.0, range);
                    }
                }
                let frame = &mut out[(t * n_seqs + s) * side * side..][..side * side];
                for r in 0..sq {
                    for c in 0..sq {
                        frame[(y as usize + r) * side + x as usize + c] = 1.0;
                    }
                }
            }
        }
    }
}

fn ascii(frame: &[f32], side: usize) -> Vec<String> {
    let step = (side / 16).max(1);
    (0..side)
        .step_by(step)
        .map(|r| {
            (0..side)
                .step_by(step)
                .map(|c| match frame[r * side + c] {
                    v if v > 0.6 => '#',
                    v if v > 0.3 => '+',
                    v if v > 0.1 => '.',
                    _ => ' ',
                })
                .collect()
        })
        .collect()
}

fn run(a: Args) -> seqvid::Result<()> {
    let (t, s) = (K + M, a.batch);
    let digits = match &a.mnist {
        Some(dir) => {
            let path = ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.exists())
                .ok_or_else(|| {
                    seqvid::Error::new(
                        seqvid::Status::Io,
                        format!(
                            "no train-images-idx3-ubyte[.gz] in {} (run examples/setup-mnist.sh)",
                            dir.display()
                        ),
                    )
                })?;
            Some(Digits::load(path)?)
        }
        None => None,
    };
    let side = if digits.is_some() { 64 } else { 16 };
    let d = side * side;

    let mut model = Model::builder()
        .kind(Kind::Composite)
        .input_dim(d)
        .hidden(a.hidden)
        .input_frames(K)
        .future_frames(M)
        .build()?;
    let mut opt = Optimizer::new(OptimizerKind::Adam)?
        .with(OptimizerKey::Lr, 2e-3)?
        .with(OptimizerKey::GradClip, 10.0)?;
    println!(
        "seqvid {}: composite model, {} hidden units, {} parameters; {} data, {}x{} frames",
        seqvid::version(),
        a.hidden,
        model.param_count(),
        if digits.is_some() {
            "Moving MNIST"
        } else {
            "bouncing-square"
        },
        side,
        side
    );

    // Training batches and a fixed validation set.
    let mut generator = match &digits {
        Some(dg) => Some(MovingMnist::new(dg)?.with(MmnistKey::Digits, 1.0)?),
        None => None,
    };
    let mut synth = Bouncing {
        side,
        state: 0x9E3779B97F4A7C15,
    };
    let mut val_frames = vec![0f32; t * s * d];
    match &digits {
        Some(dg) => {
            let mut vg = MovingMnist::new(dg)?
                .with(MmnistKey::Digits, 1.0)?
                .with(MmnistKey::Seed, 2015.0)?;
            vg.fill(&mut Batch::wrap(&mut val_frames, t, s, d)?)?;
        }
        None => Bouncing { side, state: 2015 }.fill(&mut val_frames, t, s),
    }
    let val = Batch::view(&val_frames, t, s, d)?;

    let mut frames = vec![0f32; t * s * d];
    let start = std::time::Instant::now();
    for step in 1..=a.steps {
        let loss = match generator.as_mut() {
            Some(g) => {
                let mut b = Batch::wrap(&mut frames, t, s, d)?;
                g.fill(&mut b)?;
                model.train_step(&mut opt, &b)?
            }
            None => {
                synth.fill(&mut frames, t, s);
                model.train_step(&mut opt, &Batch::view(&frames, t, s, d)?)?
            }
        };
        if step % 100 == 0 || step == a.steps {
            let v = model.evaluate(&val, Eval::Inference)?;
            println!(
                "step {step:5}  train rec {:8.2} fut {:8.2}   validation rec {:8.2} fut {:8.2}   {:.1}s",
                loss.rec,
                loss.fut,
                v.rec,
                v.fut,
                start.elapsed().as_secs_f64()
            );
        }
    }

    // Show the truth and the prediction of the last two future frames of sequence 0.
    let inputs = Batch::view(&val_frames[..K * s * d], K, s, d)?;
    let pred = model.predict(&inputs, M)?;
    for f in [M - 2, M - 1] {
        let truth = ascii(&val_frames[((K + f) * s) * d..][..d], side);
        let guess = ascii(&pred[(f * s) * d..][..d], side);
        println!("frame {:2}: truth | prediction", K + f + 1);
        for (l, r) in truth.iter().zip(&guess) {
            println!("  {l} | {r}");
        }
    }
    if let Some(path) = &a.save {
        model.save(path)?;
        println!("saved {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("train: {msg}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train: {e}");
            ExitCode::FAILURE
        }
    }
}
