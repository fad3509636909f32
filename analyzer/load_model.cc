#include "analyzer/load_model.h"

#include "analyzer/json/json_frontend.h"
#if JOULECAST_HAVE_ONNX
#include "analyzer/onnx/onnx_frontend.h"
#endif

namespace joulecast {

namespace {
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

Result<Graph> LoadModel(const std::string& path, const LoadOptions& options) {
  if (EndsWith(path, ".onnx")) {
#if JOULECAST_HAVE_ONNX
    return LoadOnnxFile(path, options);
#else
    return Status::Error(path + ": this joulecast was built without ONNX support "
                                "(configure with -DJOULECAST_WITH_ONNX=ON, with libonnx installed)");
#endif
  }
  if (EndsWith(path, ".json")) return LoadJsonFile(path, options);
  return Status::Error(path + ": unknown model format; expected a .onnx file or a .json architecture");
}

}  // namespace joulecast
