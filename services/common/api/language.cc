#include "services/common/api/language.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cstopa/type/v1/types.pb.h"
#include "google/protobuf/descriptor.h"

namespace cstopa::common {
namespace {

constexpr char kLocalizedText[] = "cstopa.type.v1.LocalizedText";

// Whether `tag` (a preference) and `code` (a text's language) match.
bool Matches(absl::string_view tag, absl::string_view code) {
  if (absl::EqualsIgnoreCase(tag, code)) return true;
  auto prefix = [](absl::string_view a, absl::string_view b) {
    return a.size() < b.size() && b[a.size()] == '-' &&
           absl::StartsWithIgnoreCase(b, a);
  };
  return prefix(tag, code) || prefix(code, tag);
}

// Reorders one repeated LocalizedText field.
void Reorder(const std::vector<std::string>& languages,
             google::protobuf::Message* m,
             const google::protobuf::FieldDescriptor* f) {
  const google::protobuf::Reflection* r = m->GetReflection();
  const int n = r->FieldSize(*m, f);
  if (n < 2) return;
  const google::protobuf::FieldDescriptor* code =
      f->message_type()->FindFieldByName("language_code");
  if (code == nullptr) return;
  std::vector<size_t> rank(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const google::protobuf::Message& text = r->GetRepeatedMessage(*m, f, i);
    const std::string lang = text.GetReflection()->GetString(text, code);
    size_t k = 0;
    while (k < languages.size() && !Matches(languages[k], lang)) ++k;
    rank[static_cast<size_t>(i)] = k;
  }
  // Insertion sort by rank (stable; a field holds a few texts).
  for (int i = 1; i < n; ++i) {
    for (int j = i; j > 0 && rank[static_cast<size_t>(j - 1)] >
                                 rank[static_cast<size_t>(j)];
         --j) {
      r->SwapElements(m, f, j - 1, j);
      std::swap(rank[static_cast<size_t>(j - 1)], rank[static_cast<size_t>(j)]);
    }
  }
}

}  // namespace

std::vector<std::string> ParseAcceptLanguage(absl::string_view value) {
  std::vector<std::pair<double, std::string>> tags;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::vector<absl::string_view> pieces = absl::StrSplit(part, ';');
    absl::string_view tag = absl::StripAsciiWhitespace(pieces[0]);
    double q = 1;
    for (size_t i = 1; i < pieces.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(pieces[i]);
      if (absl::StartsWith(p, "q=") && !absl::SimpleAtod(p.substr(2), &q))
        q = 0;
    }
    if (tag.empty() || tag == "*" || q <= 0) continue;
    tags.emplace_back(q, std::string(tag));
  }
  std::stable_sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) {
    return a.first > b.first;
  });
  std::vector<std::string> out;
  for (auto& t : tags) out.push_back(std::move(t.second));
  return out;
}

void PreferLanguages(const std::vector<std::string>& languages,
                     google::protobuf::Message* message) {
  if (languages.empty()) return;
  const google::protobuf::Reflection* r = message->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*message, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE ||
        f->is_map())
      continue;
    if (f->is_repeated()) {
      if (f->message_type()->full_name() == kLocalizedText) {
        Reorder(languages, message, f);
        continue;
      }
      for (int i = 0; i < r->FieldSize(*message, f); ++i)
        PreferLanguages(languages, r->MutableRepeatedMessage(message, f, i));
    } else {
      PreferLanguages(languages, r->MutableMessage(message, f));
    }
  }
}

std::unique_ptr<google::protobuf::Message> InLanguages(
    absl::string_view accept_language,
    const google::protobuf::Message& message) {
  if (accept_language.empty()) return nullptr;
  std::unique_ptr<google::protobuf::Message> copy(message.New());
  copy->CopyFrom(message);
  PreferLanguages(ParseAcceptLanguage(accept_language), copy.get());
  return copy;
}

bool PreferLanguagesSerialized(const std::vector<std::string>& languages,
                               google::protobuf::Message* message,
                               std::string* bytes) {
  if (languages.empty()) return true;
  if (!message->ParseFromString(*bytes)) return false;
  PreferLanguages(languages, message);
  bytes->clear();
  return message->SerializeToString(bytes);
}

std::string PreferredText(
    const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>&
        texts) {
  for (const auto& t : texts) {
    if (t.language_code() == "en" || absl::StartsWith(t.language_code(), "en-"))
      return t.text();
  }
  return texts.empty() ? std::string() : texts[0].text();
}

}  // namespace cstopa::common
