#include "services/common/server/request_decoding.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"

namespace cstopa::common {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

constexpr int kMaxDepth = 32;

// The first byte of `text` where it stops being UTF-8, or -1.
int64_t FirstInvalidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t min = 0, cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return static_cast<int64_t>(i);
    }
    if (i + len > n) return static_cast<int64_t>(i);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return static_cast<int64_t>(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

bool Utf8Checked(const FieldDescriptor& f) {
  return f.type() == FieldDescriptor::TYPE_STRING &&
         f.file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3;
}

void Walk(const UnknownFieldSet& set, const Descriptor& type,
          const std::string& prefix, int depth,
          std::vector<FieldViolation>& out) {
  if (depth > kMaxDepth) return;
  std::map<int, int> seen;  // field number -> occurrences so far
  for (int i = 0; i < set.field_count(); ++i) {
    const UnknownField& u = set.field(i);
    if (u.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* f = type.FindFieldByNumber(u.number());
    if (f == nullptr) continue;
    const int index = seen[u.number()]++;
    std::string path = absl::StrCat(prefix, f->name());
    if (f->is_repeated() && !f->is_map())
      absl::StrAppend(&path, "[", index, "]");
    if (Utf8Checked(*f)) {
      int64_t bad = FirstInvalidUtf8(u.length_delimited());
      if (bad >= 0)
        out.push_back({path, absl::StrCat("is not valid UTF-8 (byte ", bad,
                                          " of the value)")});
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      UnknownFieldSet nested;
      if (nested.ParseFromString(u.length_delimited()))
        Walk(nested, *f->message_type(), path + ".", depth + 1, out);
    }
  }
}

}  // namespace

bool IsValidUtf8(absl::string_view text) { return FirstInvalidUtf8(text) < 0; }

std::vector<FieldViolation> InvalidUtf8Fields(absl::string_view bytes,
                                              const Descriptor& type) {
  std::vector<FieldViolation> out;
  UnknownFieldSet set;
  if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return out;
  Walk(set, type, "", 0, out);
  return out;
}

absl::Status UndecodableRequest(absl::string_view bytes,
                                const Descriptor& type) {
  std::vector<FieldViolation> fields = InvalidUtf8Fields(bytes, type);
  if (fields.empty()) {
    fields.push_back(
        {"", absl::StrCat("the request is not a valid ", type.full_name(),
                          " in the protobuf wire format")});
  }
  return InvalidArgument("INVALID_REQUEST", std::move(fields));
}

}  // namespace cstopa::common
