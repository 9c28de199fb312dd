// seqvid.hpp -- a small header-only RAII wrapper over the libseqvid C API (an example, not
// part of the library: copy it into your project and extend it).
//
//  - Every handle is a std::unique_ptr with a deleter calling the matching seqvid_*_free, so
//    objects are released on every path, exceptions included, and are move-only.
//  - Every failing status becomes a seqvid::Error carrying the status and the library's
//    message (seqvid_last_error() is per-thread, so it is read right after the failing call).
//  - Thread safety is the C library's: one object, one thread at a time.
#ifndef SEQVID_HPP
#define SEQVID_HPP

#include <seqvid.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace seqvid {

// A failed libseqvid call: status() is the seqvid_status; what() is the library's message
// ("seqvid_config_set: unknown key 99") after the status name.
class Error : public std::runtime_error {
public:
    explicit Error(int status)
        : std::runtime_error(std::string(seqvid_status_string(status)) + ": " +
                             seqvid_last_error()),
          status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

inline void check(int status) {
    if (status != SEQVID_OK) throw Error(status);
}

// unique_ptr whose deleter is the library's own *_free function.
template <class T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const noexcept { Free(p); }
};
template <class T, void (*Free)(T *)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

using ConfigHandle = Handle<seqvid_config, seqvid_config_free>;
using ModelHandle = Handle<seqvid_model, seqvid_model_free>;
using OptimizerHandle = Handle<seqvid_optimizer, seqvid_optimizer_free>;
using BatchHandle = Handle<seqvid_batch, seqvid_batch_free>;

class Config {
public:
    Config() {
        seqvid_config *c = nullptr;
        check(seqvid_config_create(&c));
        h_.reset(c);
    }
    Config &set(seqvid_config_key key, double value) {
        check(seqvid_config_set(h_.get(), key, value));
        return *this;
    }
    double get(seqvid_config_key key) const {
        double v = 0;
        check(seqvid_config_get(h_.get(), key, &v));
        return v;
    }
    const seqvid_config *get() const noexcept { return h_.get(); }

private:
    ConfigHandle h_;
};

// An owned, zero-filled batch: steps x seqs x dim floats, time-major.
class Batch {
public:
    Batch(std::size_t steps, std::size_t seqs, std::size_t dim)
        : steps_(steps), seqs_(seqs), dim_(dim) {
        seqvid_batch *b = nullptr;
        check(seqvid_batch_create(steps, seqs, dim, &b));
        h_.reset(b);
    }
    // Element (t, s, d) is data()[(t * seqs() + s) * dim() + d].
    float *data() {
        float *p = nullptr;
        check(seqvid_batch_data(h_.get(), &p));
        return p;
    }
    std::size_t steps() const noexcept { return steps_; }
    std::size_t seqs() const noexcept { return seqs_; }
    std::size_t dim() const noexcept { return dim_; }
    const seqvid_batch *get() const noexcept { return h_.get(); }

private:
    BatchHandle h_;
    std::size_t steps_, seqs_, dim_;
};

class Optimizer {
public:
    explicit Optimizer(seqvid_optimizer_kind kind) {
        seqvid_optimizer *o = nullptr;
        check(seqvid_optimizer_create(kind, &o));
        h_.reset(o);
    }
    Optimizer &set(seqvid_optimizer_key key, double value) {
        check(seqvid_optimizer_set(h_.get(), key, value));
        return *this;
    }
    std::uint64_t steps() const {
        std::uint64_t n = 0;
        check(seqvid_optimizer_steps(h_.get(), &n));
        return n;
    }
    seqvid_optimizer *get() noexcept { return h_.get(); }

private:
    OptimizerHandle h_;
};

struct Losses {
    float rec = 0, fut = 0;
    float total() const noexcept { return rec + fut; }
};

class Model {
public:
    explicit Model(const Config &cfg) {
        seqvid_model *m = nullptr;
        check(seqvid_model_create(cfg.get(), &m));
        h_.reset(m);
    }
    double get(seqvid_config_key key) const {
        double v = 0;
        check(seqvid_model_get(h_.get(), key, &v));
        return v;
    }
    Losses train_step(Optimizer &opt, const Batch &batch) {
        Losses l;
        check(seqvid_model_train_step(h_.get(), opt.get(), batch.get(), &l.rec, &l.fut));
        return l;
    }
    Losses evaluate(const Batch &batch, seqvid_eval_flags flags = SEQVID_EVAL_INFERENCE) {
        Losses l;
        check(seqvid_model_evaluate(h_.get(), batch.get(), flags, &l.rec, &l.fut));
        return l;
    }
    // n_future frames after each sequence: element (t, s, d) at (t * seqs + s) * dim + d.
    std::vector<float> predict(const Batch &batch, std::size_t n_future) {
        std::vector<float> out(n_future * batch.seqs() * batch.dim());
        check(seqvid_model_predict(h_.get(), batch.get(), n_future, out.data(), out.size()));
        return out;
    }
    std::size_t feature_dim() const {
        std::size_t f = 0;
        check(seqvid_model_feature_dim(h_.get(), &f));
        return f;
    }
    // One feature vector of feature_dim() floats per sequence.
    std::vector<float> encode(const Batch &batch) {
        std::vector<float> out(batch.seqs() * feature_dim());
        check(seqvid_model_encode(h_.get(), batch.get(), out.data(), out.size()));
        return out;
    }
    std::size_t param_count() const {
        std::size_t n = 0;
        check(seqvid_model_param_count(h_.get(), &n));
        return n;
    }
    seqvid_model *get() noexcept { return h_.get(); }

private:
    ModelHandle h_;
};

}  // namespace seqvid

#endif  // SEQVID_HPP
