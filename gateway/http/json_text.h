// UTF-8 checks and JSON string literals, shared by the transcoder (answers
// and errors as JSON) and the OpenAPI document.
//
//   std::string out;
//   AppendJsonString(&out, "a \"quoted\" word\n");  // "a \"quoted\" word\n"
//   if (!IsUtf8(text)) ...
#ifndef CSTOPA_GATEWAY_HTTP_JSON_TEXT_H_
#define CSTOPA_GATEWAY_HTTP_JSON_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace cstopa::gateway::http {

// The length of the well-formed UTF-8 sequence at s[i], or 0 (overlong
// forms, surrogates and code points above U+10FFFF are not well formed).
size_t Utf8SequenceLength(absl::string_view s, size_t i);

// Whether `s` is well-formed UTF-8.
bool IsUtf8(absl::string_view s);

// Appends `s` as a JSON string literal: quotes, backslashes and control
// characters (and DEL) escaped, UTF-8 as it is, each byte that is not
// UTF-8 as U+FFFD, so the output is always valid JSON.
void AppendJsonString(std::string* out, absl::string_view s);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_JSON_TEXT_H_
