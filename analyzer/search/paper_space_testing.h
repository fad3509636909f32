// The paper's SimpleCNN search space on Fashion-MNIST, as space JSON, for tests and benchmarks:
// a log-scale learning rate, beta1, (optionally) beta2, a conv layer count and the optimizer, in
// that file order.
#pragma once

#include <string>

namespace joulecast::search {

/// The space text; `with_beta2` adds beta2 in [0.9, 0.9999] after beta1 (5 parameters, not 4).
inline std::string PaperSpaceJson(bool with_beta2 = false) {
  const std::string beta2 =
      with_beta2 ? R"("beta2": {"type": "float", "low": 0.9, "high": 0.9999},)" : "";
  return R"({
  "architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", "nr_linear_layers": 2,
                   "input": {"shape": [1, 28, 28]}, "classes": 10},
  "parameters": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-1, "log": true},
                 "beta1": {"type": "float", "low": 0.1, "high": 1.0},)" +
         beta2 + R"(
                 "nr_conv": {"type": "int", "low": 1, "high": 4},
                 "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]}},
  "training": {"dataset": "fashion-mnist", "epochs": 2, "batch_size": 512,
               "train_samples": 10000, "validation_samples": 5000}})";
}

}  // namespace joulecast::search
