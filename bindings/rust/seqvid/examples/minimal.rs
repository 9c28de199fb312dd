//! The README's Rust example: train a tiny composite model, then predict and encode.
use seqvid::{Batch, Kind, Model, Optimizer, OptimizerKey, OptimizerKind};

fn main() -> seqvid::Result<()> {
    let (d, k, m, s) = (16, 3, 3, 4); // floats per frame, frames in, frames predicted, sequences
    let mut model = Model::builder()
        .kind(Kind::Composite)
        .input_dim(d)
        .hidden(8)
        .input_frames(k)
        .future_frames(m)
        .build()?;
    let mut opt = Optimizer::new(OptimizerKind::Adam)?.with(OptimizerKey::Lr, 0.01)?;

    // Time-major frames: value d of frame t of sequence q is at (t * S + q) * D + d.
    let mut frames = vec![0f32; (k + m) * s * d];
    for t in 0..k + m {
        for q in 0..s {
            frames[(t * s + q) * d + (t + q) % d] = 1.0; // a dot moving one step per frame
        }
    }
    let batch = Batch::view(&frames, k + m, s, d)?; // borrowed, not copied
    for step in 1..=200 {
        let loss = model.train_step(&mut opt, &batch)?;
        if step % 50 == 0 {
            let (rec, fut) = (loss.rec, loss.fut);
            println!("step {step}: reconstruction {rec:.3}, future {fut:.3} nats/frame");
        }
    }
    let inputs = Batch::view(&frames[..k * s * d], k, s, d)?; // the first K frames
    let future = model.predict(&inputs, m)?; // shape [M, S, D]
    let codes = model.encode(&inputs)?; // shape [S, 2 * layers * hidden]
    println!("prediction {:?}, codes {:?}", future.shape(), codes.shape());
    let p = future.at(&[0, 0, k % d]).unwrap(); // next frame of sequence 0, at the dot
    println!("probability of the dot's next position: {p:.3}");
    Ok(())
}
