// Views assembled from the backends' answers as they came, on the wire:
// what keeps a view's cost near the cost of copying its bytes.
//
// A view mostly relays whole fields of the backends' answers (a state
// profile's `state` is the membership summary's `state`). Decoding each
// answer into messages only to move their fields into the view and encode
// the view again costs the gateway more than anything else it does per
// view (parsing, UTF-8 checks, allocating and freeing every nested
// message). A Splice instead copies an answer's fields, bytes as they are,
// under the view's field numbers: the view's serialized form is a sequence
// of fields in any order, and a repeated field's elements may come from
// several places.
//
// Before copying, a Splice checks that what it copies is well formed as
// the type it claims to be (every nested message's structure, every
// string's UTF-8), so a backend's bad answer fails its own section, as a
// parse would, and never the client's decoding of the whole view. On the
// way it collects the strings that look like membership resource names,
// for the view's `references` (NameDirectory::AppendReferences).
//
//   static const Splice* const kSummary = new Splice(
//       mem::StateSummary::descriptor(), gw::StateProfile::descriptor(),
//       {{"state", "state"}, {"roles", "posts"}});
//   std::string view = header.SerializeAsString();
//   std::vector<absl::string_view> names;  // point into `answer`
//   if (!kSummary->AppendTo(answer, &view, &names)) ...the section failed
#ifndef CSTOPA_GATEWAY_VIEW_BYTES_H_
#define CSTOPA_GATEWAY_VIEW_BYTES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace cstopa::gateway {

// Whether `s` has the shape of a membership resource name (states/…,
// bodies/…, parliaments/…, persons/…, partners/…; delegations are
// parliaments/…/delegations/…). Cheap: called on every string of a view.
bool IsMembershipName(absl::string_view s);

// Appends to `out` field `number` with the length-delimited `value` (a
// string, bytes or a serialized message).
void AppendLengthDelimited(uint32_t number, absl::string_view value,
                           std::string* out);

// Where names and structure are in one message type, for walking its
// serialized form (made once, immutable).
class WireType {
 public:
  // kPacked*: a repeated scalar, whose packed form (one length-delimited
  // run) is checked as a parser reads it: varints, or 4- or 8-byte values.
  enum class Kind : uint8_t {
    kOther,
    kString,
    kMessage,
    kPackedVarint,
    kPacked32,
    kPacked64
  };
  struct Field {
    Kind kind = Kind::kOther;
    bool utf8 = false;                  // a kString that must be UTF-8
    const WireType* message = nullptr;  // when kMessage
  };

  // The field numbered `number`, or a kOther field when the type has none
  // (an unknown field is skipped, as a parser keeps it aside).
  const Field& Find(uint32_t number) const {
    if (number < by_number_.size()) return by_number_[number];
    auto it = large_.find(number);
    return it == large_.end() ? kUnknown : it->second;
  }

 private:
  friend class WireTypes;
  static const Field kUnknown;
  std::vector<Field> by_number_;
  absl::flat_hash_map<uint32_t, Field> large_;  // numbers past by_number_
};

// The WireTypes of a message type and every type it can hold.
class WireTypes {
 public:
  const WireType* For(const google::protobuf::Descriptor* type);
  // How field `f` is walked (its message type's WireType made as needed).
  WireType::Field FieldOf(const google::protobuf::FieldDescriptor* f);

 private:
  absl::flat_hash_map<const google::protobuf::Descriptor*,
                      std::unique_ptr<WireType>>
      types_;
};

// Checks `bytes` as a serialized message of `type` (see the file comment)
// and adds to `names` (pointing into `bytes`) its strings that look like
// membership names. False when it is not well formed.
bool CheckMessage(absl::string_view bytes, const WireType& type,
                  std::vector<absl::string_view>* names);

class Splice {
 public:
  // Copies the fields of `answer` named first in each pair to the fields
  // of `view` named second. Each pair must name fields of the same type
  // and cardinality (the process stops at start otherwise: a programming
  // error the first view would hit).
  Splice(const google::protobuf::Descriptor* answer,
         const google::protobuf::Descriptor* view,
         std::vector<std::pair<std::string, std::string>> fields);

  // Appends the mapped fields of `answer` (a serialized answer message) to
  // `view`, and the names they hold to `names`. When `answer` is not well
  // formed, appends nothing and returns false.
  bool AppendTo(absl::string_view answer, std::string* view,
                std::vector<absl::string_view>* names) const;

 private:
  struct Mapped {
    uint32_t view_number = 0;  // 0: not copied
    WireType::Field field;
  };
  WireTypes types_;
  std::vector<Mapped> by_number_;  // indexed by the answer's field number
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_VIEW_BYTES_H_
