// A search space (docs/search.md): an architecture template with "$name" placeholders,
// the parameters that fill them (and set the training), and the training every trial gets.
//
//   {"architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", ...},
//    "parameters": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-1, "log": true},
//                   "nr_conv": {"type": "int", "low": 1, "high": 4},
//                   "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]}},
//    "training": {"dataset": "fashion-mnist", "epochs": 2, "batch_size": 512,
//                 "train_samples": 10000, "validation_samples": 5000}}
//
// A string "$name" anywhere in `architecture` is replaced by that parameter's value (any JSON
// architecture form). Parameters named learning_rate, beta1, beta2, weight_decay, optimizer,
// batch_size and epochs set the training instead (or as well, if also used in the template).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast::search {

/// One parameter's value: a real, an integer or a category.
using Value = std::variant<double, int64_t, std::string>;
/// A trial's parameters by name.
using Params = std::map<std::string, Value>;

struct Parameter {
  enum class Type { real, integer, categorical };
  std::string name;
  Type type = Type::real;
  double low = 0, high = 1;          ///< Bounds (inclusive) for real and integer.
  bool log = false;                  ///< Searched in log space (low > 0).
  std::vector<Value> choices;        ///< For categorical: strings, integers or reals.
};

/// How every trial trains (the parameters may override fields).
struct Training {
  std::string dataset = "fashion-mnist";
  int64_t epochs = 1;
  int64_t batch_size = 64;
  int64_t train_samples = 10000;
  int64_t validation_samples = 5000;
  std::string optimizer = "adam";    ///< "adam" or "sgd".
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double weight_decay = 0;
};

struct Space {
  std::string source;                ///< The file, for messages.
  std::string architecture;          ///< The template, as JSON text.
  std::vector<Parameter> parameters; ///< In the file's order.
  Training training;
};

/// Parses and validates a space; errors name the source and the field (JSON pointer): unknown
/// types, low > high, log with low <= 0, empty choices, a "$name" with no parameter, a parameter
/// used nowhere (neither in the template nor a training name).
Result<Space> ParseSpace(const std::string& text, const std::string& source);
Result<Space> LoadSpace(const std::string& path);

/// The architecture JSON with every "$name" replaced by its value (integers stay integers).
Result<std::string> ExpandArchitecture(const Space& space, const Params& params);
/// True when the architecture template holds "$name": the parameter shapes the network (and so
/// can change its predicted energy).
bool UsedInArchitecture(const Space& space, const std::string& name);
/// The training with the training-named parameters applied.
Training TrainingFor(const Space& space, const Params& params);

/// The unit-cube coordinates of `params` (one per parameter, in order): reals and integers
/// linearly (or in log space) onto [0, 1], integers at the centres of equal-width cells,
/// categoricals at the centres of equal-width cells of their index.
std::vector<double> ToUnit(const Space& space, const Params& params);
/// The parameters at unit point `u` (inverse of ToUnit: integers and categoricals by cell).
Params FromUnit(const Space& space, const std::vector<double>& u);

/// "lr=0.001, nr_conv=3, optimizer=adam" for messages; a JSON object for storage.
std::string ParamsText(const Params& params);
std::string ParamsJson(const Params& params);
Result<Params> ParamsFromJson(const std::string& json, const Space& space);

}  // namespace joulecast::search
