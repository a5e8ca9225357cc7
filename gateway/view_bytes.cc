#include "gateway/view_bytes.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"

namespace cstopa::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

// As deep as protobuf's parser goes by default.
constexpr int kMaxDepth = 100;
// Field numbers below this are looked up by index.
constexpr uint32_t kIndexed = 1024;

enum WireKind : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// A varint of at most `max_bytes` (≤ 10) bytes, the bits past 64 dropped.
bool ReadVarint(const char*& p, const char* end, uint64_t* out,
                int max_bytes = 10) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes && p < end; ++i) {
    const auto b = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

// A field's tag, read as protobuf's parser reads one: at most five bytes,
// the bits past 32 dropped. False when it is not one (or number 0).
bool ReadTag(const char*& p, const char* end, uint32_t* number,
             uint32_t* wire) {
  uint64_t tag = 0;
  if (!ReadVarint(p, end, &tag, 5)) return false;
  *number = static_cast<uint32_t>(tag) >> 3;
  *wire = static_cast<uint32_t>(tag) & 7;
  return *number != 0;
}

// A length-delimited value's bytes, after its tag. The length as protobuf's
// parser takes it: at most five bytes, under 2 GiB.
bool ReadDelimited(const char*& p, const char* end, absl::string_view* out) {
  uint64_t n = 0;
  if (!ReadVarint(p, end, &n, 5) || n >= (uint64_t{1} << 31) ||
      n > static_cast<uint64_t>(end - p))
    return false;
  *out = absl::string_view(p, n);
  p += n;
  return true;
}

// Skips the value of field `number` of wire type `wire` (its tag read);
// a group up to and with its end tag.
bool SkipValue(const char*& p, const char* end, uint32_t number, uint32_t wire,
               int depth) {
  switch (wire) {
    case kVarint: {
      uint64_t v = 0;
      return ReadVarint(p, end, &v);
    }
    case kFixed64:
      if (end - p < 8) return false;
      p += 8;
      return true;
    case kFixed32:
      if (end - p < 4) return false;
      p += 4;
      return true;
    case kLengthDelimited: {
      absl::string_view v;
      return ReadDelimited(p, end, &v);
    }
    case kStartGroup: {
      if (depth >= kMaxDepth) return false;
      uint32_t n = 0, w = 0;
      while (ReadTag(p, end, &n, &w)) {
        if (w == kEndGroup) return n == number;
        if (!SkipValue(p, end, n, w, depth + 1)) return false;
      }
      return false;
    }
    default:  // an end tag outside a group, or no wire type at all
      return false;
  }
}

bool Check(absl::string_view bytes, const WireType& type,
           std::vector<absl::string_view>* names, int depth);

// Checks one value of `field` (its tag read, of wire type `wire`).
bool CheckValue(const char*& p, const char* end, uint32_t number, uint32_t wire,
                const WireType::Field& field,
                std::vector<absl::string_view>* names, int depth) {
  // A string or message field under another wire type is an unknown field
  // to a parser: kept aside, not an error.
  if (field.kind == WireType::Kind::kOther || wire != kLengthDelimited)
    return SkipValue(p, end, number, wire, depth);
  absl::string_view value;
  if (!ReadDelimited(p, end, &value)) return false;
  switch (field.kind) {
    case WireType::Kind::kMessage:
      return depth < kMaxDepth &&
             Check(value, *field.message, names, depth + 1);
    case WireType::Kind::kPacked32:
      return value.size() % 4 == 0;
    case WireType::Kind::kPacked64:
      return value.size() % 8 == 0;
    case WireType::Kind::kPackedVarint: {
      const char* q = value.data();
      const char* q_end = q + value.size();
      uint64_t v = 0;
      while (q < q_end)
        if (!ReadVarint(q, q_end, &v)) return false;
      return true;
    }
    default:
      break;  // a string
  }
  if (field.utf8 && !google::protobuf::internal::IsStructurallyValidUTF8(
                        value.data(), static_cast<int>(value.size())))
    return false;
  if (IsMembershipName(value)) names->push_back(value);
  return true;
}

bool Check(absl::string_view bytes, const WireType& type,
           std::vector<absl::string_view>* names, int depth) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    uint32_t number = 0, wire = 0;
    if (!ReadTag(p, end, &number, &wire)) return false;
    if (!CheckValue(p, end, number, wire, type.Find(number), names, depth))
      return false;
  }
  return true;
}

// A Splice made wrong: a programming error, met at the first view.
[[noreturn]] void Unspliceable(const std::string& why) {
  std::fprintf(stderr, "gateway: %s\n", why.c_str());
  std::abort();
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

const WireType::Field WireType::kUnknown;

bool IsMembershipName(absl::string_view s) {
  if (s.size() < 8) return false;  // "bodies/" and an ID
  switch (s[0]) {
    case 's':
      return absl::StartsWith(s, "states/");
    case 'b':
      return absl::StartsWith(s, "bodies/");
    case 'p':
      return absl::StartsWith(s, "parliaments/") ||
             absl::StartsWith(s, "persons/") ||
             absl::StartsWith(s, "partners/");
    default:
      return false;
  }
}

const WireType* WireTypes::For(const Descriptor* type) {
  if (auto it = types_.find(type); it != types_.end()) return it->second.get();
  // Entered before its fields, so that a recursive type ends.
  WireType* wire = (types_[type] = std::make_unique<WireType>()).get();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    const WireType::Field field = FieldOf(f);
    if (field.kind == WireType::Kind::kOther) continue;  // skipped by wire type
    const auto number = static_cast<uint32_t>(f->number());
    if (number < kIndexed) {
      if (wire->by_number_.size() <= number)
        wire->by_number_.resize(number + 1);
      wire->by_number_[number] = field;
    } else {
      wire->large_[number] = field;
    }
  }
  return wire;
}

WireType::Field WireTypes::FieldOf(const FieldDescriptor* f) {
  WireType::Field field;
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING:
      field.kind = WireType::Kind::kString;
      // As protobuf's parser: proto3 strings must be UTF-8.
      field.utf8 = f->file()->syntax() == FileDescriptor::SYNTAX_PROTO3;
      break;
    case FieldDescriptor::TYPE_MESSAGE:
      field.kind = WireType::Kind::kMessage;
      field.message = For(f->message_type());
      break;
    case FieldDescriptor::TYPE_GROUP:
    case FieldDescriptor::TYPE_BYTES:
      break;  // skipped by their wire type
    default:
      if (!f->is_repeated()) break;
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_FLOAT:
          field.kind = WireType::Kind::kPacked32;
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          field.kind = WireType::Kind::kPacked64;
          break;
        default:
          field.kind = f->type() == FieldDescriptor::TYPE_FIXED32 ||
                               f->type() == FieldDescriptor::TYPE_SFIXED32
                           ? WireType::Kind::kPacked32
                       : f->type() == FieldDescriptor::TYPE_FIXED64 ||
                               f->type() == FieldDescriptor::TYPE_SFIXED64
                           ? WireType::Kind::kPacked64
                           : WireType::Kind::kPackedVarint;
      }
  }
  return field;
}

void AppendLengthDelimited(uint32_t number, absl::string_view value,
                           std::string* out) {
  AppendVarint((static_cast<uint64_t>(number) << 3) | kLengthDelimited, out);
  AppendVarint(value.size(), out);
  out->append(value.data(), value.size());
}

bool CheckMessage(absl::string_view bytes, const WireType& type,
                  std::vector<absl::string_view>* names) {
  return Check(bytes, type, names, 0);
}

Splice::Splice(const Descriptor* answer, const Descriptor* view,
               std::vector<std::pair<std::string, std::string>> fields) {
  for (const auto& [from_name, to_name] : fields) {
    const FieldDescriptor* from = answer->FindFieldByName(from_name);
    const FieldDescriptor* to = view->FindFieldByName(to_name);
    if (from == nullptr || to == nullptr) {
      Unspliceable(absl::StrCat(answer->full_name(), ".", from_name, " -> ",
                                view->full_name(), ".", to_name,
                                ": no such field"));
    }
    if (from->type() != to->type() ||
        from->is_repeated() != to->is_repeated() ||
        from->message_type() != to->message_type() ||
        from->enum_type() != to->enum_type() ||
        from->type() == FieldDescriptor::TYPE_GROUP ||
        static_cast<uint32_t>(from->number()) >= kIndexed) {
      Unspliceable(absl::StrCat(from->full_name(), " cannot be copied to ",
                                to->full_name()));
    }
    Mapped mapped;
    mapped.view_number = static_cast<uint32_t>(to->number());
    mapped.field = types_.FieldOf(from);
    // A string copied into a proto3 view must be UTF-8 whatever its source.
    if (to->type() == FieldDescriptor::TYPE_STRING &&
        to->file()->syntax() == FileDescriptor::SYNTAX_PROTO3)
      mapped.field.utf8 = true;
    const auto number = static_cast<uint32_t>(from->number());
    if (by_number_.size() <= number) by_number_.resize(number + 1);
    by_number_[number] = mapped;
  }
}

bool Splice::AppendTo(absl::string_view answer, std::string* view,
                      std::vector<absl::string_view>* names) const {
  const size_t view_size = view->size();
  const size_t names_size = names->size();
  const char* p = answer.data();
  const char* end = p + answer.size();
  while (p < end) {
    uint32_t number = 0, wire = 0;
    const bool ok = ReadTag(p, end, &number, &wire);
    // (A group under a copied field's number is an unknown field to a
    // parser: skipped, as its end tag could not be renumbered.)
    const Mapped* mapped = ok && wire != kStartGroup &&
                                   number < by_number_.size() &&
                                   by_number_[number].view_number != 0
                               ? &by_number_[number]
                               : nullptr;
    const char* value = p;
    if (!ok || !(mapped != nullptr
                     ? CheckValue(p, end, number, wire, mapped->field, names, 0)
                     : SkipValue(p, end, number, wire, 0))) {
      view->resize(view_size);
      names->resize(names_size);
      return false;
    }
    if (mapped == nullptr) continue;
    AppendVarint((static_cast<uint64_t>(mapped->view_number) << 3) | wire,
                 view);
    view->append(value, static_cast<size_t>(p - value));
  }
  return true;
}

}  // namespace cstopa::gateway
