// libFuzzer target for CompileFilter: any input must either compile to SQL
// whose placeholders match its parameters or fail with INVALID_ARGUMENT.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.pb.h"
#include "services/common/query/filter.h"

namespace {

using ::cstopa::common::FilterField;
using ::cstopa::common::FilterFieldType;

const std::vector<FilterField>& Fields() {
  static const auto* const kFields = new std::vector<FilterField>{
      {"name", "name", FilterFieldType::kString},
      {"tags", "tags", FilterFieldType::kTextList},
      {"n", "n", FilterFieldType::kInt},
      {"flag", "flag", FilterFieldType::kBool},
      {"kind", "kind", FilterFieldType::kEnum,
       google::protobuf::FieldDescriptorProto::Type_descriptor()},
      {"ts", "ts", FilterFieldType::kTimestamp},
      {"day", "day", FilterFieldType::kDate},
  };
  return *kFields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view filter(reinterpret_cast<const char*>(data), size);
  const auto cond = cstopa::common::CompileFilter(filter, Fields());
  if (cond.ok()) {
    const auto marks = std::count(cond->sql.begin(), cond->sql.end(), '?');
    if (static_cast<size_t>(marks) != cond->params.size()) std::abort();
  } else if (cond.status().code() != absl::StatusCode::kInvalidArgument) {
    std::abort();
  }
  return 0;
}
