// Request validation shared by every service: resource names and IDs,
// localized texts, dates and ranges, enums, provenance, URIs, and the AIP
// rules for output-only fields and update masks. Problems are collected as
// field violations and returned together as one INVALID_ARGUMENT with a
// google.rpc.BadRequest, so a client fixes them all at once.
//
//   Violations v;
//   CheckName(v, "name", request.name(), {"states"}, /*required=*/true);
//   CheckTexts(v, "state.display_name", state.display_name(), true);
//   if (absl::Status s = v.ToStatus(); !s.ok()) return s;
#ifndef CSTOPA_SERVICES_COMMON_QUERY_VALIDATION_H_
#define CSTOPA_SERVICES_COMMON_QUERY_VALIDATION_H_

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "cstopa/type/v1/types.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/type/date.pb.h"
#include "services/common/base/errors.h"

namespace cstopa::common {

// Limits every service applies to client-written content.
inline constexpr size_t kMaxTextLength = 4000;  // bytes per text
inline constexpr int kMaxRepeated = 500;        // entries per repeated field
inline constexpr int kMaxBatch = 1000;          // names per BatchGet

// Field violations collected while validating a request.
class Violations {
 public:
  void Add(std::string field, std::string description) {
    v_.push_back({std::move(field), std::move(description)});
  }
  bool empty() const { return v_.empty(); }
  size_t size() const { return v_.size(); }
  // OK when there are none; else INVALID_ARGUMENT with every violation and
  // an ErrorInfo with `reason`.
  absl::Status ToStatus(absl::string_view reason = "INVALID_ARGUMENT") {
    if (v_.empty()) return absl::OkStatus();
    return InvalidArgument(reason, std::move(v_));
  }

 private:
  std::vector<FieldViolation> v_;
};

// Resource IDs: 1-63 characters of a-z, 0-9 and '-', starting with a letter
// and not ending with '-'.
bool ValidId(absl::string_view id);
extern const char kIdRule[];

// A resource name of the given shape: {"states"} matches "states/kz",
// {"parliaments", "delegations"} matches "parliaments/x/delegations/y".
bool ValidName(absl::string_view name,
               absl::Span<const absl::string_view> collections);
// The shape as documentation:
// "parliaments/{parliament}/delegations/{delegation}".
std::string NamePattern(absl::Span<const absl::string_view> collections);
// Adds a violation unless `name` has the shape (or is empty and !required).
void CheckName(Violations& v, const std::string& field, const std::string& name,
               absl::Span<const absl::string_view> collections, bool required);
// INVALID_ARGUMENT (reason INVALID_NAME, a violation on `field`) unless the
// request field `field` holds a name of the shape; OK when it does.
absl::Status CheckRequestName(const std::string& field, const std::string& name,
                              absl::Span<const absl::string_view> collections);

// A BCP 47 tag such as "en", "ru" or "sr-Latn".
bool ValidLanguageCode(absl::string_view code);
void CheckCount(Violations& v, const std::string& field, int count);
void CheckTexts(
    Violations& v, const std::string& field,
    const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>&
        texts,
    bool required);
// A calendar date, possibly partial (year; year and month).
void CheckDate(Violations& v, const std::string& field,
               const google::type::Date& d);
// Valid bounds, and an end no earlier than the start.
void CheckRange(Violations& v, const std::string& field,
                const cstopa::type::v1::DateRange& r);
// A known value of `e`; with `required`, not the zero (UNSPECIFIED) value.
void CheckEnum(Violations& v, const std::string& field,
               const google::protobuf::EnumDescriptor* e, int value,
               bool required);
void CheckProvenance(
    Violations& v, const std::string& field,
    const google::protobuf::RepeatedPtrField<cstopa::type::v1::Provenance>& ps);
// CheckProvenance of a record that exists only because a source says so (a
// stated figure, a source gap): at least one entry, each naming its
// `source`. `what` says what the source is, e.g. "the source that states
// the figure".
void CheckSourcedProvenance(
    Violations& v, const std::string& field,
    const google::protobuf::RepeatedPtrField<cstopa::type::v1::Provenance>& ps,
    const std::string& what);
// ISO 3166-1 alpha-2 ("KZ"), when not empty.
void CheckRegionCode(Violations& v, const std::string& field,
                     const std::string& code);
// An http(s) URI, when not empty.
void CheckUri(Violations& v, const std::string& field, const std::string& uri);

// Field behaviour (google.api.field_behavior) of a field.
bool IsOutputOnly(const google::protobuf::FieldDescriptor* f);
// Fields a client may write: everything but `name`, `etag` and OUTPUT_ONLY.
bool IsWritable(const google::protobuf::FieldDescriptor* f);
// Clears the OUTPUT_ONLY fields computed on read (all but the *_time ones,
// which the store keeps).
void ClearComputed(google::protobuf::Message* m);
// Clears every OUTPUT_ONLY field (what a client sent there is ignored).
void ClearOutputOnly(google::protobuf::Message* m);
// The fields an Update writes (AIP-134): the mask's top-level fields, every
// writable field for "*", or the populated writable fields of `prototype`
// when the mask is empty. INVALID_ARGUMENT names unknown or read-only paths.
absl::StatusOr<google::protobuf::FieldMask> EffectiveMask(
    const google::protobuf::Message& prototype,
    const google::protobuf::FieldMask& mask);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_QUERY_VALIDATION_H_
