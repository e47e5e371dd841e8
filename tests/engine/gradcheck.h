// Finite-difference gradient checking in double precision (after Caffe's GradientChecker). The
// scalar under test is L = sum(y * G) for a fixed random G, so dL/dy = G is what backward receives;
// every analytic input and parameter gradient is compared with the central difference
// (L(v + eps) - L(v - eps)) / (2 eps) at every element of small tensors and a random sample of
// larger ones.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/layer.h"

namespace aslnet::test {

struct GradCheckOptions {
  double eps = 1e-5;
  double abs_tol = 1e-7;
  double rel_tol = 1e-6;
  int max_samples = 48;  // elements checked per tensor (all of them when the tensor is smaller)
  bool training = true;
};

// Owns storage for a stand-alone layer's parameters and state (the Model does this for networks).
class StandaloneParams {
 public:
  explicit StandaloneParams(Layer& layer, Rng& rng);
  const std::vector<Parameter*>& parameters() const { return params_; }

 private:
  std::vector<Parameter*> params_;
  std::vector<StateTensor*> state_;
  std::vector<Counter*> counters_;
  std::vector<Tensor> storage_;
};

// Checks dx (when the layer computes it) and every parameter gradient of `layer` at input `x` (f64).
// Returns the failures as readable lines (empty when all match).
std::vector<std::string> check_layer_gradients(Layer& layer, const std::vector<Parameter*>& params, Tensor x,
                                               Rng& rng, const GradCheckOptions& options = {});

}  // namespace aslnet::test
