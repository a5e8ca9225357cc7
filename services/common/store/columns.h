// Builders of ResourceSpec columns for the common cases: a resource's
// display names, a string field, an enum field, an int64 derived value.
//
//   const ResourceSpec kStates{
//       "states",
//       {DisplayNameColumn<v1::State>(),
//        StringColumn<v1::State>(
//            "region_code", [](const v1::State& s) { return s.region_code(); },
//            /*orderable=*/true)}};
#ifndef CSTOPA_SERVICES_COMMON_STORE_COLUMNS_H_
#define CSTOPA_SERVICES_COMMON_STORE_COLUMNS_H_

#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "services/common/store/resource_store.h"

namespace cstopa::common {

// Texts joined as "\ntext1\ntext2\n" (FilterFieldType::kTextList), from any
// repeated LocalizedText.
template <typename Texts>
std::string JoinTexts(const Texts& texts) {
  std::string out = "\n";
  for (const auto& t : texts) {
    out += t.text();
    out += '\n';
  }
  return out;
}

// The `display_name` column (every language), for `display_name:"…"`.
template <typename T>
ColumnSpec DisplayNameColumn() {
  return {"display_name", FilterFieldType::kTextList, nullptr,
          [](const google::protobuf::Message& m) -> SqlValue {
            return JoinTexts(static_cast<const T&>(m).display_name());
          }};
}

// A string column; `get(const T&)` returns something convertible to string.
template <typename T, typename F>
ColumnSpec StringColumn(const char* name, F get, bool orderable) {
  return {name, FilterFieldType::kString, nullptr,
          [get](const google::protobuf::Message& m) -> SqlValue {
            return std::string(get(static_cast<const T&>(m)));
          },
          orderable};
}

// An enum column filtered by value name (`kind = BODY_KIND_COUNCIL`).
template <typename T, typename F>
ColumnSpec EnumColumn(const char* name,
                      const google::protobuf::EnumDescriptor* e, F get) {
  return {name, FilterFieldType::kEnum, e,
          [get](const google::protobuf::Message& m) -> SqlValue {
            return static_cast<int64_t>(get(static_cast<const T&>(m)));
          },
          true};
}

// A column of another FilterFieldType whose value `get(const T&)` returns as
// an int64 (dates as YYYYMMDD for kDate, microseconds for kTimestamp, ...).
template <typename T, typename F>
ColumnSpec IntColumn(const char* name, FilterFieldType type, F get,
                     bool orderable) {
  return {name, type, nullptr,
          [get](const google::protobuf::Message& m) -> SqlValue {
            return static_cast<int64_t>(get(static_cast<const T&>(m)));
          },
          orderable};
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_COLUMNS_H_
