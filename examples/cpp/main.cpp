// main.cpp -- train a tiny composite model on synthetic "moving square" videos from C++,
// then predict the future and encode sequences. Uses only <seqvid.h> through seqvid.hpp.
//
//   seqvid_cpp [steps]      (default 40 training steps; runs in well under a second)
#include "seqvid.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace {

constexpr std::size_t side = 8, D = side * side;  // 8x8 frames
constexpr std::size_t K = 4, M = 3, T = K + M;     // 4 frames in, 3 frames predicted
constexpr std::size_t S = 4;                       // sequences per batch

// Sequence s: a 2x2 square starting at a position and moving with a velocity that depend on
// s, wrapping around the frame. Pixels are 0 or 1, as the binary output expects.
void fill_moving_squares(seqvid::Batch &batch) {
    float *x = batch.data();
    for (std::size_t t = 0; t < batch.steps(); t++)
        for (std::size_t s = 0; s < batch.seqs(); s++) {
            float *frame = x + (t * batch.seqs() + s) * D;
            const std::size_t r0 = (s + t * (1 + s % 2)) % side;
            const std::size_t c0 = (2 * s + t) % side;
            for (std::size_t i = 0; i < D; i++) frame[i] = 0.0f;
            for (std::size_t dr = 0; dr < 2; dr++)
                for (std::size_t dc = 0; dc < 2; dc++)
                    frame[((r0 + dr) % side) * side + (c0 + dc) % side] = 1.0f;
        }
}

int run(int steps) {
    std::printf("libseqvid %s (header %s)\n", seqvid_version_string(), SEQVID_VERSION_STRING);

    seqvid::Config cfg;
    cfg.set(SEQVID_CFG_KIND, SEQVID_COMPOSITE)
        .set(SEQVID_CFG_INPUT_DIM, D)
        .set(SEQVID_CFG_HIDDEN, 32)
        .set(SEQVID_CFG_INPUT_FRAMES, K)
        .set(SEQVID_CFG_FUTURE_FRAMES, M)
        .set(SEQVID_CFG_OUTPUT, SEQVID_OUTPUT_BINARY)
        .set(SEQVID_CFG_SEED, 1);

    // Errors arrive as exceptions with the library's message.
    try {
        cfg.set(static_cast<seqvid_config_key>(999), 1.0);
    } catch (const seqvid::Error &e) {
        std::printf("expected error (status %d): %s\n", e.status(), e.what());
    }

    seqvid::Model model(cfg);  // cfg is copied: it could be destroyed now
    seqvid::Optimizer opt(SEQVID_OPT_ADAM);
    opt.set(SEQVID_OPT_LR, 1e-2);
    seqvid::Batch batch(T, S, D);
    fill_moving_squares(batch);

    const seqvid::Losses before = model.evaluate(batch, SEQVID_EVAL_TEACHER_FORCED);
    seqvid::Losses l;
    for (int i = 0; i < steps; i++) l = model.train_step(opt, batch);
    const seqvid::Losses after = model.evaluate(batch, SEQVID_EVAL_TEACHER_FORCED);
    std::printf("%zu parameters, %llu steps: loss %.3f -> %.3f nats/frame (rec %.3f, fut %.3f)\n",
                model.param_count(), static_cast<unsigned long long>(opt.steps()),
                before.total(), after.total(), after.rec, after.fut);

    const std::vector<float> pred = model.predict(batch, 2);   // 2 x S x D
    const std::vector<float> feat = model.encode(batch);       // S x feature_dim
    std::printf("predicted %zu floats, first pixel %.3f; features: %zu per sequence\n",
                pred.size(), pred[0], model.feature_dim());

    if (!(after.total() < before.total())) {
        std::fprintf(stderr, "seqvid_cpp: training did not lower the loss\n");
        return 1;
    }
    for (float p : pred)
        if (!(p >= 0.0f && p <= 1.0f)) {
            std::fprintf(stderr, "seqvid_cpp: prediction %g outside [0, 1]\n", p);
            return 1;
        }
    if (feat.size() != S * model.feature_dim()) return 1;
    std::printf("seqvid_cpp: OK\n");
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 40;
    try {
        return run(steps > 0 ? steps : 40);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "seqvid_cpp: %s\n", e.what());
        return 1;
    }
}
