// The caller's preferred languages: the `accept-language` request metadata
// (as HTTP's Accept-Language: BCP 47 tags, comma-separated, optionally with
// `;q=` weights, e.g. "ru, en;q=0.8") orders every repeated
// cstopa.type.v1.LocalizedText of a response: the texts in the first
// preferred language first, then the next, then the rest as stored. Order
// only: no text is dropped. A tag matches a text's language_code when they
// are equal (case-insensitively) or one is a prefix of the other up to a
// `-` ("ru" matches "ru-RU", "kk-Cyrl" matches "kk").
//
// The platform applies it to every unary response and stream message, once
// (server/grpc_binding.cc, api/blocking.cc), and the gateway passes the
// metadata on to the services it calls (client/call_context.h). Without the
// metadata nothing is decoded or walked.
#ifndef CSTOPA_SERVICES_COMMON_API_LANGUAGE_H_
#define CSTOPA_SERVICES_COMMON_API_LANGUAGE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace cstopa::type::v1 {
class LocalizedText;
}  // namespace cstopa::type::v1

namespace cstopa::common {

// The request metadata key.
inline constexpr char kAcceptLanguageKey[] = "accept-language";

// The tags of an Accept-Language value, most preferred first (by weight,
// then as listed); `*` and tags of weight 0 are left out.
std::vector<std::string> ParseAcceptLanguage(absl::string_view value);

// Reorders every repeated LocalizedText in `message` (nested messages
// included) by `languages` (ParseAcceptLanguage), stably.
void PreferLanguages(const std::vector<std::string>& languages,
                     google::protobuf::Message* message);

// A copy of `message` with its texts ordered by `accept_language` (the
// metadata's value, unparsed); null when it is empty (send `message`).
std::unique_ptr<google::protobuf::Message> InLanguages(
    absl::string_view accept_language,
    const google::protobuf::Message& message);

// The same for a serialized message of `message`'s type: parsed into
// `message`, reordered and serialized back into `bytes`. False when `bytes`
// does not parse (then it is left as it is).
bool PreferLanguagesSerialized(const std::vector<std::string>& languages,
                               google::protobuf::Message* message,
                               std::string* bytes);

// The text to name a thing by where one language must be chosen (search
// hits, the Popolo export): the English text of `texts`, else the first; ""
// when there is none.
std::string PreferredText(
    const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>&
        texts);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_API_LANGUAGE_H_
