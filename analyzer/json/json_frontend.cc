#include "analyzer/json/json_frontend.h"

#include <initializer_list>
#include <map>
#include <utility>

#include "analyzer/core/checked_math.h"
#include "analyzer/core/shape_inference.h"
#include "analyzer/json/families.h"
#include "analyzer/json/json_layers.h"
#include "common/json_fields.h"
#include "common/read_file.h"

namespace joulecast {

namespace {

using json_fields::Describe;
using json_fields::Expected;
using json_fields::Fields;
using json_fields::OneLine;
using json_fields::Pointer;
using json_fields::Quote;
using json_fields::ReadInt;
using json_internal::FindLayerOp;
using json_internal::kMaxDim;
using json_internal::kMaxElements;
using json_internal::LayerInput;
using json_internal::LayerOp;
using json_internal::LayerOpList;
using Json = nlohmann::json;
using json_internal::SpecError;

constexpr size_t kMaxFileBytes = size_t{16} << 20;
constexpr size_t kMaxIdLength = 128;

const std::string_view kPlainFields[] = {"name", "input", "layers", "training"};
const std::string_view kFamilyFields[] = {
    "family", "name", "input", "nr_conv_layers", "nr_linear_layers", "classes", "training"};
const std::string_view kInputFields[] = {"shape"};
const std::string_view kTrainingFields[] = {"batch", "epochs", "samples", "optimizer", "precision"};
constexpr int64_t kMaxEpochs = int64_t{1} << 20;   // as --epochs
constexpr int64_t kMaxSamples = int64_t{1} << 40;  // as --samples

// Thrown errors carry their pointer apart so the message reads "<file>: <pointer>: <what>".
// Pointers hold the user's keys verbatim; `what` has quoted user text escaped already.
Status ErrorAt(const std::string& source, const std::string& pointer, const std::string& what) {
  return Status::Error(json_fields::ErrorLine(source, pointer, what, true));
}

std::vector<int64_t> ReadInputShape(const Fields& top, const LoadOptions& options) {
  const Json* input = top.Find("input");
  if (!input) throw SpecError("/input", "missing required field; expected {\"shape\": [C, H, W]}");
  Fields in(*input, "/input");
  in.OnlyAllow(kInputFields, "in input");
  const std::string expected =
      "[C, H, W]: 1 to 3 positive integers up to " + std::to_string(kMaxDim);
  const Json* shape = in.Find("shape");
  if (!shape) throw SpecError("/input/shape", "missing required field; expected " + expected);
  if (!shape->is_array() || shape->empty() || shape->size() > 3) {
    Expected("/input/shape", expected, *shape);
  }
  std::vector<int64_t> chw;
  for (size_t i = 0; i < shape->size(); ++i) {
    chw.push_back(ReadInt((*shape)[i], Pointer("/input/shape", i), 1, kMaxDim));
  }
  if (options.input_chw) {
    chw = *options.input_chw;
    bool ok = !chw.empty() && chw.size() <= 3;
    for (int64_t v : chw) ok &= v >= 1 && v <= kMaxDim;
    if (!ok) {
      throw SpecError("", "the input shape given to replace input.shape must be " + expected);
    }
  }
  return chw;
}

// One of `allowed` at `pointer`, or an error listing them.
std::string ReadChoice(const Json& value, const std::string& pointer, std::string_view what,
                       std::initializer_list<std::string_view> allowed) {
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  if (!value.is_string()) Expected(pointer, "one of " + list, value);
  const std::string& text = value.get_ref<const std::string&>();
  for (std::string_view a : allowed) {
    if (text == a) return text;
  }
  throw SpecError(pointer,
                  "unknown " + std::string(what) + " " + Quote(text) + "; expected one of " + list);
}

// The optional "training" object: how the network is trained (docs/json-architecture.md).
TrainingSettings ReadTraining(const Fields& top) {
  TrainingSettings t;
  const Json* training = top.Find("training");
  if (!training) return t;
  Fields f(*training, "/training");
  f.OnlyAllow(kTrainingFields, "in training");
  if (const Json* v = f.Find("batch")) t.batch = ReadInt(*v, f.At("batch"), 1, kMaxDim);
  if (const Json* v = f.Find("epochs")) t.epochs = ReadInt(*v, f.At("epochs"), 1, kMaxEpochs);
  if (const Json* v = f.Find("samples")) t.samples = ReadInt(*v, f.At("samples"), 1, kMaxSamples);
  if (const Json* v = f.Find("optimizer")) {
    t.optimizer = ReadChoice(*v, f.At("optimizer"), "optimizer", {"adam", "sgd"});
  }
  if (const Json* v = f.Find("precision")) {
    t.precision = ReadChoice(*v, f.At("precision"), "precision", {"fp32", "bf16", "fp16"});
  }
  return t;
}

std::string ReadName(const Fields& top, const std::string& source) {
  const Json* name = top.Find("name");
  if (!name) return FileStem(source);
  if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
    Expected("/name", "a non-empty string", *name);
  }
  return name->get<std::string>();
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Builds the graph of a plain layer list, one layer at a time, so that each layer sees the
// shape of what it reads when it sizes its weights.
class PlainBuilder {
 public:
  PlainBuilder(const Json& layers, Graph& graph) : layers_(layers), g_(graph) {}

  void Build() {
    if (!layers_.is_array() || layers_.empty()) {
      Expected("/layers", "a non-empty array of layers", layers_);
    }
    CollectIds();
    int previous = g_.inputs[0];
    for (size_t i = 0; i < layers_.size(); ++i) previous = AddLayer(i, previous);
    for (size_t i = 0; i + 1 < layers_.size(); ++i) {
      if (!used_[i]) {
        throw SpecError(Pointer("/layers", i),
                        "the output of layer '" + names_[i] +
                            "' is never read; only the last layer may be left unread (name it "
                            "in a later layer's \"from\", or remove it)");
      }
    }
    g_.outputs = {previous};
  }

  /// The layer pointer of each node, for messages after the graph is finalized.
  const std::map<std::string, std::string>& node_layer() const { return node_layer_; }

 private:
  // First pass: where each id is defined, so "from" can tell a later id from an unknown one.
  void CollectIds() {
    for (size_t i = 0; i < layers_.size(); ++i) {
      const Json& l = layers_[i];
      if (!l.is_object()) continue;
      auto id = l.find("id");
      if (id != l.end() && id->is_string()) defined_at_.emplace(id->get<std::string>(), i);
    }
  }

  std::string LayerName(const Fields& f, std::string_view op, size_t i) {
    const Json* id = f.Find("id");
    std::string name;
    if (id) {
      if (!id->is_string() || !ValidId(id->get<std::string>())) {
        Expected(f.At("id"), "a name of letters, digits, '_' and '-' (up to 128)", *id);
      }
      name = id->get<std::string>();
      if (name == "input") throw SpecError(f.At("id"), "\"input\" names the graph input");
      auto seen = taken_.find(name);
      if (seen != taken_.end()) {
        throw SpecError(f.At("id"), "duplicate id " + Quote(name) + "; layer " + seen->second +
                                        " already has that name");
      }
    } else {
      name = std::string(op) + "_" + std::to_string(i);
      auto seen = taken_.find(name);
      if (seen != taken_.end()) {
        throw SpecError(f.pointer(), "its default name " + Quote(name) + " is taken by layer " +
                                         seen->second + "; give this layer an \"id\"");
      }
    }
    taken_.emplace(name, f.pointer());
    return name;
  }

  std::vector<int> Inputs(const Fields& f, const LayerOp& op, size_t i, int previous) {
    const Json* from = f.Find("from");
    std::string count = op.min_inputs == op.max_inputs
                            ? "exactly one id"
                            : "at least " + std::to_string(op.min_inputs) + " ids";
    if (!from) {
      if (op.min_inputs > 1) {
        throw SpecError(f.At("from"), "missing required field; " + std::string(op.name) +
                                          " joins layers and needs \"from\" with " + count);
      }
      if (i > 0) used_[i - 1] = true;
      return {previous};
    }
    if (!from->is_array() || from->size() < static_cast<size_t>(op.min_inputs) ||
        from->size() > static_cast<size_t>(op.max_inputs)) {
      Expected(f.At("from"), "an array of " + count + " of earlier layers (or \"input\")", *from);
    }
    std::vector<int> inputs;
    for (size_t k = 0; k < from->size(); ++k) {
      const Json& ref = (*from)[k];
      std::string at = Pointer(f.At("from"), k);
      if (!ref.is_string()) Expected(at, "the id of an earlier layer", ref);
      const std::string& id = ref.get_ref<const std::string&>();
      if (id == "input") {
        inputs.push_back(g_.inputs[0]);
        continue;
      }
      auto done = output_of_.find(id);
      if (done != output_of_.end()) {
        inputs.push_back(done->second.first);
        used_[done->second.second] = true;
        continue;
      }
      auto later = defined_at_.find(id);
      if (later != defined_at_.end()) {
        throw SpecError(at, Quote(id) + " is the id of " +
                                (later->second == i ? std::string("this layer")
                                                    : Pointer("/layers", later->second)) +
                                "; \"from\" may only name earlier layers");
      }
      if (taken_.count(id)) {
        throw SpecError(at, Quote(id) + " is the default name of layer " + taken_.at(id) +
                                "; \"from\" reads ids, so give that layer an \"id\"");
      }
      throw SpecError(at, "unknown id " + Quote(id) + "; " + KnownIds());
    }
    return inputs;
  }

  std::string KnownIds() const {
    if (output_of_.empty()) return "no earlier layer has an id (\"input\" names the input)";
    std::string list;
    size_t shown = 0;
    for (const auto& entry : output_of_) {
      if (shown++ == 10) {
        list += ", ...";
        break;
      }
      list += (list.empty() ? "" : ", ") + Quote(entry.first);
    }
    return "earlier ids are " + list;
  }

  int AddLayer(size_t i, int previous) {
    Fields f(layers_[i], Pointer("/layers", i));
    std::string op_name = f.Text("op");
    const LayerOp* op = FindLayerOp(op_name);
    if (!op) {
      throw SpecError(f.At("op"),
                      "unknown op " + Quote(op_name) + "; the ops are " + LayerOpList());
    }
    f.OnlyAllow(op->fields, "for " + op_name);
    std::string name = LayerName(f, op->name, i);
    used_.push_back(false);
    names_.push_back(name);
    std::vector<int> inputs = Inputs(f, *op, i, previous);
    size_t first_node = g_.nodes.size();
    int out = op->build(g_, LayerInput{op->name, f, name, std::move(inputs)});
    for (size_t n = first_node; n < g_.nodes.size(); ++n) {
      node_layer_[g_.nodes[n].name] = f.pointer();
    }
    if (f.Find("id")) output_of_.emplace(name, std::make_pair(out, i));
    return out;
  }

  const Json& layers_;
  Graph& g_;
  std::map<std::string, size_t> defined_at_;                 // id -> first layer using it
  std::map<std::string, std::pair<int, size_t>> output_of_;  // id -> (tensor, layer)
  std::map<std::string, std::string> taken_;                 // layer name -> its pointer
  std::map<std::string, std::string> node_layer_;
  std::vector<bool> used_;
  std::vector<std::string> names_;
};

Graph BuildPlain(const Fields& top, const std::string& source, const LoadOptions& options) {
  top.OnlyAllow(kPlainFields, "at the top level (a family architecture has \"family\")");
  Graph g;
  g.name = ReadName(top, source);
  g.source = source;
  g.batch = options.batch.value_or(1);
  g.batch_symbolic = true;
  std::vector<int64_t> chw = ReadInputShape(top, options);
  Tensor input;
  input.name = "input";
  input.role = Role::input;
  input.shape_known = true;
  input.batched = true;
  input.dims = {g.batch};
  input.dims.insert(input.dims.end(), chw.begin(), chw.end());
  auto elements = CheckedProduct(input.dims);
  if (!elements || *elements > kMaxElements) {
    throw SpecError("/input/shape", "a batch of such inputs has more than 2^48 elements");
  }
  g.inputs = {g.AddTensor(std::move(input))};

  const Json* layers = top.Find("layers");
  if (!layers) throw SpecError("/layers", "missing required field; expected an array of layers");
  PlainBuilder builder(*layers, g);
  builder.Build();

  Status s = g.Finalize();
  if (!s.ok()) throw SpecError("", s.message());
  std::vector<Diagnostic> diagnostics = InferShapes(g);
  if (!diagnostics.empty()) {
    const Diagnostic& d = diagnostics.front();
    auto at =
        d.node >= 0 ? builder.node_layer().find(g.nodes[d.node].name) : builder.node_layer().end();
    throw SpecError(at == builder.node_layer().end() ? "" : at->second, d.message);
  }
  return g;
}

FamilySpec ReadFamily(const Fields& top, const LoadOptions& options) {
  top.OnlyAllow(kFamilyFields, "in a family architecture");
  FamilySpec spec;
  spec.family = top.Text("family");
  spec.nr_conv_layers = top.Int("nr_conv_layers", 1, kMaxFamilyLayers, spec.nr_conv_layers);
  spec.nr_linear_layers = top.Int("nr_linear_layers", 1, kMaxFamilyLayers, spec.nr_linear_layers);
  spec.classes = top.Int("classes", 1, kMaxDim, spec.classes);
  spec.input_chw = ReadInputShape(top, options);
  if (const Json* name = top.Find("name")) {
    if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
      Expected("/name", "a non-empty string", *name);
    }
    spec.name = name->get<std::string>();
  }
  return spec;
}

Json ParseText(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // nlohmann's message starts "[json.exception.parse_error.101] parse error at line 2, ...".
    std::string what = e.what();
    size_t start = what.find("] ");
    throw SpecError(
        "", "invalid JSON: " + OneLine(start == std::string::npos ? what : what.substr(start + 2)));
  }
}

Result<Graph> Load(std::string_view text, const std::string& source, const LoadOptions& options) {
  if (options.batch && (*options.batch < 1 || *options.batch > kMaxDim)) {
    return ErrorAt(source, "",
                   "the batch size must be a positive integer up to " + std::to_string(kMaxDim) +
                       ", got " + std::to_string(*options.batch));
  }
  Json doc = ParseText(text);
  if (!doc.is_object()) {
    throw SpecError("", "expected a JSON object at the top level, got " + Describe(doc));
  }
  Fields top(doc, "");
  const TrainingSettings training = ReadTraining(top);
  // The file's batch binds the symbolic batch unless the caller (a flag) binds it.
  LoadOptions bound = options;
  if (!bound.batch) bound.batch = training.batch;
  if (!top.Find("family")) {
    Graph g = BuildPlain(top, source, bound);
    g.training = training;
    return g;
  }

  FamilySpec spec = ReadFamily(top, options);
  Result<std::string> expanded = ExpandFamily(spec, source);
  if (!expanded.ok()) return expanded.status();
  // The expansion has already replaced the input shape; loading it must not replace it again.
  LoadOptions plain;
  plain.batch = bound.batch;
  Json plain_doc = ParseText(*expanded);
  try {
    Graph g = BuildPlain(Fields(plain_doc, ""), source, plain);
    g.training = training;
    return g;
  } catch (const SpecError& e) {
    throw SpecError("", "in its expansion as " + spec.family + ": " +
                            (e.pointer().empty() ? "" : e.pointer() + ": ") + e.what());
  }
}

}  // namespace

Result<Graph> ParseJsonArchitecture(std::string_view text, const std::string& source,
                                    const LoadOptions& options) {
  if (text.size() > kMaxFileBytes) {
    return ErrorAt(
        source, "",
        "larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB; not an architecture file");
  }
  // Internally errors are thrown (nlohmann throws too); none leaves this function.
  try {
    return Load(text, source, options);
  } catch (const SpecError& e) {
    return ErrorAt(source, e.pointer(), e.what());
  } catch (const std::exception& e) {
    return ErrorAt(source, "", "cannot load: " + OneLine(e.what()));
  }
}

Result<Graph> LoadJsonFile(const std::string& path, const LoadOptions& options) {
  std::string error;
  const std::optional<std::string> text = ReadFileUpTo(path, kMaxFileBytes, &error);
  if (!text) return ErrorAt(path, "", error);
  return ParseJsonArchitecture(*text, path, options);  // which refuses a file cut as too large
}

}  // namespace joulecast
