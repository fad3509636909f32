#include "analyzer/energy/profile.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "analyzer/energy/energy_internal.h"
#include "common/json_fields.h"

namespace joulecast {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Validation failures are thrown at a JSON pointer and caught at the edge of ParseProfile.
using json_fields::FieldError;

// `p` is a view, not a const std::string&: GCC 13 warns (-Wdangling-reference) when a function
// returning a reference takes a temporary string.
const json& Field(const json& j, std::string_view p, const char* key, json::value_t type) {
  const std::string ptr(p);
  if (!j.contains(key)) throw FieldError{ptr + "/" + key, "is missing"};
  const json& v = j[key];
  bool ok = v.type() == type ||
            (type == json::value_t::number_float && v.is_number()) ||
            (type == json::value_t::number_integer && v.is_number_unsigned());
  if (!ok) throw FieldError{ptr + "/" + key, std::string("must be a ") + json(type).type_name()};
  return v;
}

LinearModel ReadModel(const json& j, const std::string& ptr) {
  if (!j.is_object()) throw FieldError{ptr, "must be an object"};
  LinearModel m;
  const json& features = Field(j, ptr, "features", json::value_t::array);
  const auto& known = FeatureNames();
  for (size_t i = 0; i < features.size(); ++i) {
    const json& f = features[i];
    if (!f.is_string() || std::find(known.begin(), known.end(), f.get<std::string>()) == known.end()) {
      throw FieldError{ptr + "/features/" + std::to_string(i), "is not a known feature name"};
    }
    m.features.push_back(f.get<std::string>());
  }
  for (const char* key : {"energy_j", "time_s"}) {
    const json& c = Field(j, ptr, key, json::value_t::array);
    if (c.size() != m.features.size()) {
      throw FieldError{ptr + "/" + key, "must have one coefficient per feature"};
    }
    std::vector<double>& out = std::string(key) == "energy_j" ? m.energy_j : m.time_s;
    for (size_t i = 0; i < c.size(); ++i) {
      if (!c[i].is_number() || c[i].get<double>() < 0) {
        throw FieldError{ptr + "/" + key + "/" + std::to_string(i), "must be a number >= 0"};
      }
      out.push_back(c[i].get<double>());
    }
  }
  m.cv_mape = Field(j, ptr, "cv_mape", json::value_t::number_float).get<double>();
  if (m.cv_mape < 0) throw FieldError{ptr + "/cv_mape", "must be >= 0"};
  m.samples = Field(j, ptr, "samples", json::value_t::number_integer).get<int>();
  return m;
}

double Number(const json& j, const std::string& ptr, const char* key) {
  const double v = Field(j, ptr, key, json::value_t::number_float).get<double>();
  if (!(v >= 0)) throw FieldError{ptr + "/" + key, "must be a number >= 0"};
  return v;
}

FamilyTime ReadFamily(const json& j, const std::string& ptr) {
  if (!j.is_object()) throw FieldError{ptr, "must be an object"};
  FamilyTime f;
  f.host_fwd_s = Number(j, ptr, "host_fwd_s");
  f.host_bwd_s = Number(j, ptr, "host_bwd_s");
  f.macs_per_s_fwd = Number(j, ptr, "macs_per_s_fwd");
  f.macs_per_s_bwd = Number(j, ptr, "macs_per_s_bwd");
  f.bytes_per_s_fwd = Number(j, ptr, "bytes_per_s_fwd");
  f.bytes_per_s_bwd = Number(j, ptr, "bytes_per_s_bwd");
  f.m0 = Number(j, ptr, "m0");
  f.n0 = Number(j, ptr, "n0");
  f.k0 = Number(j, ptr, "k0");
  if (j.contains("channel_block")) {
    const json& b = j.at("channel_block");
    if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 1024) {
      throw FieldError{ptr + "/channel_block", "must be an integer from 0 to 1024"};
    }
    f.channel_block = b.get<int>();
  }
  if (j.contains("c0")) f.c0 = Number(j, ptr, "c0");
  f.samples = Field(j, ptr, "samples", json::value_t::number_integer).get<int>();
  f.cv_mape = Number(j, ptr, "cv_mape");
  const json& range = Field(j, ptr, "range", json::value_t::object);
  f.min_macs = Number(range, ptr + "/range", "min_macs");
  f.max_macs = Number(range, ptr + "/range", "max_macs");
  f.min_elements = Number(range, ptr + "/range", "min_elements");
  f.max_elements = Number(range, ptr + "/range", "max_elements");
  return f;
}

ordered_json FamilyJson(const FamilyTime& f) {
  ordered_json j = {{"host_fwd_s", f.host_fwd_s}, {"host_bwd_s", f.host_bwd_s},
                    {"macs_per_s_fwd", f.macs_per_s_fwd}, {"macs_per_s_bwd", f.macs_per_s_bwd},
                    {"bytes_per_s_fwd", f.bytes_per_s_fwd}, {"bytes_per_s_bwd", f.bytes_per_s_bwd},
                    {"m0", f.m0}, {"n0", f.n0}, {"k0", f.k0}};
  if (f.channel_block > 1) j["channel_block"] = f.channel_block;  // older profiles have none
  if (f.c0 > 0) j["c0"] = f.c0;
  j["samples"] = f.samples;
  j["cv_mape"] = f.cv_mape;
  j["range"] = {{"min_macs", f.min_macs}, {"max_macs", f.max_macs},
                {"min_elements", f.min_elements}, {"max_elements", f.max_elements}};
  return j;
}

TimeModel ReadTimeModel(const json& j, const std::string& ptr) {
  if (!j.is_object()) throw FieldError{ptr, "must be an object"};
  TimeModel m;
  m.async = Field(j, ptr, "async", json::value_t::boolean).get<bool>();
  m.launch_s = Number(j, ptr, "launch_s");
  const json& scale = Field(j, ptr, "device_scale", json::value_t::object);
  m.device_scale.conv = Number(scale, ptr + "/device_scale", "conv");
  m.device_scale.linear = Number(scale, ptr + "/device_scale", "linear");
  m.device_scale.memory = Number(scale, ptr + "/device_scale", "memory");
  m.step_overhead_s = Number(j, ptr, "step_overhead_s");
  const json& o = Field(j, ptr, "optimizer", json::value_t::object);
  m.optimizer_launches_per_tensor = Number(o, ptr + "/optimizer", "launches_per_tensor");
  m.optimizer_bytes_per_param = Number(o, ptr + "/optimizer", "bytes_per_param");
  m.optimizer_bytes_per_s = Number(o, ptr + "/optimizer", "bytes_per_s");
  // Timed optimizer terms came after schema 3's first profiles: absent means not timed.
  if (o.contains("step_s")) m.optimizer_step_s = Number(o, ptr + "/optimizer", "step_s");
  if (o.contains("tensor_s")) m.optimizer_tensor_s = Number(o, ptr + "/optimizer", "tensor_s");
  if (j.contains("dynamic_w")) m.dynamic_w = Number(j, ptr, "dynamic_w");
  if (j.contains("joules_per_mac")) m.joules_per_mac = Number(j, ptr, "joules_per_mac");
  if (j.contains("joules_per_byte")) m.joules_per_byte = Number(j, ptr, "joules_per_byte");
  if (j.contains("joules_per_mac_matmul")) {
    m.joules_per_mac_matmul = Number(j, ptr, "joules_per_mac_matmul");
  }
  const json& families = Field(j, ptr, "families", json::value_t::object);
  for (auto it = families.begin(); it != families.end(); ++it) {
    const std::string fp = ptr + "/families/" + it.key();
    if (!IsModelClass(it.key())) {
      throw FieldError{fp, "is not a model class (a layer kind, or kind.variant)"};
    }
    m.families[it.key()] = ReadFamily(*it, fp);
  }
  if (m.families.empty()) throw FieldError{ptr + "/families", "is empty"};
  return m;
}

ordered_json TimeModelJson(const TimeModel& m) {
  ordered_json families = ordered_json::object();
  for (const auto& [name, f] : m.families) families[name] = FamilyJson(f);
  ordered_json optimizer = {{"launches_per_tensor", m.optimizer_launches_per_tensor},
                            {"bytes_per_param", m.optimizer_bytes_per_param},
                            {"bytes_per_s", m.optimizer_bytes_per_s}};
  if (m.optimizer_step_s > 0 || m.optimizer_tensor_s > 0) {
    optimizer["step_s"] = m.optimizer_step_s;
    optimizer["tensor_s"] = m.optimizer_tensor_s;
  }
  ordered_json j = {{"async", m.async}, {"launch_s", m.launch_s},
                    {"device_scale", {{"conv", m.device_scale.conv},
                                      {"linear", m.device_scale.linear},
                                      {"memory", m.device_scale.memory}}},
                    {"step_overhead_s", m.step_overhead_s},
                    {"optimizer", optimizer},
                    {"dynamic_w", m.dynamic_w}, {"joules_per_mac", m.joules_per_mac},
                    {"joules_per_byte", m.joules_per_byte}};
  if (m.joules_per_mac_matmul) j["joules_per_mac_matmul"] = *m.joules_per_mac_matmul;
  j["families"] = families;
  return j;
}

ordered_json ModelJson(const LinearModel& m) {
  return {{"features", m.features}, {"energy_j", m.energy_j}, {"time_s", m.time_s},
          {"cv_mape", m.cv_mape}, {"samples", m.samples}};
}

}  // namespace

bool IsModelClass(const std::string& name) {
  const size_t dot = name.find('.');
  if (!KindFromName(name.substr(0, dot))) return false;
  if (dot == std::string::npos) return true;
  const std::string variant = name.substr(dot + 1);
  return !variant.empty() && std::all_of(variant.begin(), variant.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

const LinearModel* ModelFor(const Profile& profile, const std::string& model_class,
                            std::string* used) {
  const std::string kind = model_class.substr(0, model_class.find('.'));
  static const std::map<std::string, std::string> kReference = {
      {"activation", "activation.tanh"}, {"pool", "pool.max"}, {"elementwise", "elementwise.add"}};
  std::vector<std::string> tries = {model_class, kind};
  if (auto it = kReference.find(kind); it != kReference.end()) tries.push_back(it->second);
  return FirstFound(profile.models, tries, used);
}

const std::vector<std::string>& FeatureNames() {
  static const std::vector<std::string> names = {
      "macs_fwd", "macs_bwd_input", "macs_bwd_weight", "elements_fwd", "elements_bwd",
      "saved_activation_bytes", "im2col_elements", "layers", "params", "one"};
  return names;
}

double LayerFeature(const LayerCost& layer, const std::string& name) {
  const Work& w = layer.work;
  if (name == "macs_fwd") return static_cast<double>(w.macs_fwd.value());
  if (name == "macs_bwd_input") return static_cast<double>(w.macs_bwd_input.value());
  if (name == "macs_bwd_weight") return static_cast<double>(w.macs_bwd_weight.value());
  if (name == "elements_fwd") return static_cast<double>(w.elements_fwd.value());
  if (name == "elements_bwd") return static_cast<double>(w.elements_bwd.value());
  if (name == "saved_activation_bytes") return static_cast<double>(w.saved_bytes.value());
  if (name == "im2col_elements") return static_cast<double>(w.im2col_elements.value());
  if (name == "layers") return 1;
  if (name == "params") return static_cast<double>(layer.params.value());
  return 0;
}

Result<Profile> ParseProfile(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Error(source + ": not valid JSON");
  try {
    if (!j.is_object()) throw FieldError{"", "must be an object"};
    Profile p;
    p.source = source;
    std::string schema = Field(j, "", "schema", json::value_t::string).get<std::string>();
    if (schema == "joulecast.profile/3") {
      p.version = 3;
    } else if (schema == "joulecast.profile/2") {
      p.version = 2;
    } else if (schema == "joulecast.profile/1") {
      p.version = 1;
    } else {
      throw FieldError{"/schema", "is '" + schema +
                                      "'; this joulecast reads joulecast.profile/3 (and /2, /1): "
                                      "a newer joulecast wrote it, or it is not a profile"};
    }
    p.created = Field(j, "", "created", json::value_t::string).get<std::string>();
    p.device = Field(j, "", "device", json::value_t::string).get<std::string>();
    const json& hw = Field(j, "", "hardware", json::value_t::object);
    for (auto it = hw.begin(); it != hw.end(); ++it) {
      p.hardware[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
    }
    const json& meter = Field(j, "", "meter", json::value_t::object);
    p.meter_kind = Field(meter, "/meter", "kind", json::value_t::string).get<std::string>();
    p.meter_real = Field(meter, "/meter", "real", json::value_t::boolean).get<bool>();
    if (meter.contains("description") && meter["description"].is_string()) {
      p.meter_description = meter["description"].get<std::string>();
    }
    if (p.meter_real && p.meter_kind == "estimate") {
      throw FieldError{"/meter/real", "is true but the meter is the estimate"};
    }
    if (p.version == 3) {
      const json& time = Field(j, "", "time", json::value_t::object);
      for (auto it = time.begin(); it != time.end(); ++it) {
        if (it.key() != "fp32" && it.key() != "bf16" && it.key() != "fp16") {
          throw FieldError{"/time/" + it.key(), "is not a precision (fp32, bf16 or fp16)"};
        }
        p.time_models[it.key()] = ReadTimeModel(*it, "/time/" + it.key());
      }
      if (p.time_models.empty()) throw FieldError{"/time", "has no precision"};
      const json& power = Field(j, "", "power", json::value_t::object);
      p.power.idle_w = Number(power, "/power", "idle_w");
      p.power.active_w = Number(power, "/power", "active_w");
      p.power.dynamic_w = Number(power, "/power", "dynamic_w");
      p.power.limit_w = Number(power, "/power", "limit_w");
      if (j.contains("tf32")) p.tf32 = Field(j, "", "tf32", json::value_t::string).get<std::string>();
    }
    if (p.version < 3) {
      // Version 1 keyed its models by kind only, under "kinds"; a kind name is a model class.
      const char* key = p.version == 1 ? "kinds" : "models";
      const json& models = Field(j, "", key, json::value_t::object);
      for (auto it = models.begin(); it != models.end(); ++it) {
        const std::string ptr = std::string("/") + key + "/" + it.key();
        if (!IsModelClass(it.key())) {
          throw FieldError{ptr, "is not a model class (a layer kind, or kind.variant)"};
        }
        p.models[it.key()] = ReadModel(*it, ptr);
      }
      p.step = ReadModel(Field(j, "", "step", json::value_t::object), "/step");
    }
    if (j.contains("networks")) {
      const json& n = Field(j, "", "networks", json::value_t::object);
      p.networks.cv_mape = Field(n, "/networks", "cv_mape", json::value_t::number_float).get<double>();
      p.networks.cv_p90 = Field(n, "/networks", "cv_p90", json::value_t::number_float).get<double>();
      p.networks.samples = Field(n, "/networks", "samples", json::value_t::number_integer).get<int>();
      if (n.contains("time_cv_mape")) p.networks.time_cv_mape = Number(n, "/networks", "time_cv_mape");
      if (p.networks.cv_mape < 0 || p.networks.cv_p90 < 0 || p.networks.samples < 0) {
        throw FieldError{"/networks", "must hold numbers >= 0"};
      }
    }
    return p;
  } catch (const FieldError& e) {
    return Status::Error(json_fields::SentenceLine(source, e));
  } catch (const json::exception& e) {
    return Status::Error(source + ": " + e.what());
  }
}

Result<Profile> LoadProfile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open the profile");
  std::ostringstream text;
  text << f.rdbuf();
  if (!f && !f.eof()) return Status::Error(path + ": cannot read the profile");
  return ParseProfile(text.str(), path);
}

std::string ProfileJson(const Profile& p) {
  ordered_json j;
  j["schema"] = p.time_models.empty() ? "joulecast.profile/2" : "joulecast.profile/3";
  j["created"] = p.created;
  j["device"] = p.device;
  ordered_json hw = ordered_json::object();
  for (const auto& [k, v] : p.hardware) hw[k] = v;
  j["hardware"] = hw;
  j["meter"] = {{"kind", p.meter_kind}, {"real", p.meter_real},
                {"description", p.meter_description}};
  if (p.time_models.empty()) {
    ordered_json models = ordered_json::object();
    for (const auto& [name, model] : p.models) models[name] = ModelJson(model);
    j["models"] = models;
    j["step"] = ModelJson(p.step);
  } else {
    if (!p.tf32.empty()) j["tf32"] = p.tf32;
    ordered_json time = ordered_json::object();
    for (const auto& [precision, model] : p.time_models) time[precision] = TimeModelJson(model);
    j["time"] = time;
    j["power"] = {{"idle_w", p.power.idle_w}, {"active_w", p.power.active_w},
                  {"dynamic_w", p.power.dynamic_w}, {"limit_w", p.power.limit_w}};
  }
  if (p.networks.samples > 0) {
    j["networks"] = {{"cv_mape", p.networks.cv_mape}, {"cv_p90", p.networks.cv_p90},
                     {"samples", p.networks.samples}};
    if (!p.time_models.empty()) j["networks"]["time_cv_mape"] = p.networks.time_cv_mape;
  }
  return j.dump(2) + "\n";
}

}  // namespace joulecast
