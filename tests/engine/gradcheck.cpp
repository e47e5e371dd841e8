#include "tests/engine/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "tests/test_util.h"

namespace aslnet::test {

StandaloneParams::StandaloneParams(Layer& layer, Rng& rng) {
  layer.collect_parameters(params_);
  layer.collect_state(state_, counters_);
  for (Parameter* p : params_) {
    storage_.push_back(Tensor::empty(p->shape, DType::F64));
    p->value = storage_.back();
    // Batch-norm weights near 1 and everything else small and random, as after initialisation + training.
    fill_normal(p->value, rng, 0.5);
    if (p->role == ParamRole::NormWeight) {
      double* v = p->value.data<double>();
      for (int64_t i = 0; i < p->shape.numel(); ++i) v[i] += 1.0;
    }
    storage_.push_back(Tensor::zeros(p->shape, DType::F64));
    p->grad = storage_.back();
  }
  for (StateTensor* s : state_) {
    storage_.push_back(Tensor::zeros(s->shape, DType::F64));
    s->value = storage_.back();
  }
}

namespace {

double weighted_sum(const Tensor& y, const Tensor& g) {
  const double* a = y.data<double>();
  const double* b = g.data<double>();
  double s = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) s += a[i] * b[i];
  return s;
}

std::vector<int64_t> sample_indices(int64_t n, int max_samples, Rng& rng) {
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  if (n <= max_samples) return all;
  for (int64_t i = 0; i < max_samples; ++i) std::swap(all[i], all[i + int64_t(rng.below(uint64_t(n - i)))]);
  all.resize(max_samples);
  return all;
}

}  // namespace

std::vector<std::string> check_layer_gradients(Layer& layer, const std::vector<Parameter*>& params, Tensor x,
                                               Rng& rng, const GradCheckOptions& o) {
  Context ctx;
  const Shape out = layer.setup(ctx, x.shape(), DType::F64);
  ctx.reserve_workspace(layer.workspace_bytes());
  Tensor g = Tensor::empty(out, DType::F64);
  fill_normal(g, rng);

  auto loss = [&] { return weighted_sum(layer.forward(ctx, x, o.training), g); };
  loss();
  // Parameter gradients are written into poisoned buffers: a kernel that forgets an element shows.
  for (Parameter* p : params) std::fill_n(p->grad.data<double>(), p->grad.numel(), 1e30);
  const Tensor dx = layer.backward(ctx, g, /*accumulate=*/false).clone();

  std::vector<std::string> failures;
  auto check = [&](const std::string& what, double* values, const double* analytic, int64_t n) {
    for (int64_t i : sample_indices(n, o.max_samples, rng)) {
      const double saved = values[i];
      values[i] = saved + o.eps;
      const double plus = loss();
      values[i] = saved - o.eps;
      const double minus = loss();
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * o.eps);
      const double tol = o.abs_tol + o.rel_tol * std::max(std::abs(numeric), std::abs(analytic[i]));
      if (!(std::abs(numeric - analytic[i]) <= tol)) {
        std::ostringstream line;
        line << what << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric;
        failures.push_back(line.str());
      }
    }
  };
  if (layer.needs_input_grad()) check("input", x.data<double>(), dx.data<double>(), x.numel());
  for (Parameter* p : params) {
    const Tensor analytic = p->grad.clone();
    check(p->name, p->value.data<double>(), analytic.data<double>(), p->value.numel());
  }
  return failures;
}

}  // namespace aslnet::test
