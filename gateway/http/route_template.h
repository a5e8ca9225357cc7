// The path templates of google.api.http (google/api/http.proto):
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// parsed into a flat list of segments (a variable's segments inline) and the
// variables as ranges of them, for RouteTable's matcher; and the percent
// decoding of what a request's path and query bind.
#ifndef CSTOPA_GATEWAY_HTTP_ROUTE_TEMPLATE_H_
#define CSTOPA_GATEWAY_HTTP_ROUTE_TEMPLATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cstopa::gateway::http {

struct PathTemplate {
  enum Kind { kLiteral, kStar, kDoubleStar };
  struct Segment {
    Kind kind = kLiteral;
    std::string literal;  // kLiteral only
  };
  // A variable binds segments [start, end) of the path; end == -1 for a
  // variable that ends in `**` (the rest of the path).
  struct Variable {
    std::string field_path;  // dotted, proto names: "state.name"
    int start = 0;
    int end = 0;
  };
  std::vector<Segment> segments;
  std::vector<Variable> variables;
  std::string verb;  // without the ':'; "" for none
};

// INVALID_ARGUMENT saying what is wrong for a malformed template (no leading
// '/', empty segment, nested variable, `**` not last, a field bound twice).
absl::StatusOr<PathTemplate> ParsePathTemplate(absl::string_view text);

// Appends `in` percent-decoded to `*out`. An escape that is not two hex
// digits is kept as it is ('%' at the end, "%zz"). `plus_as_space`: '+' is
// ' ' (query strings). `keep_slash`: "%2F" stays encoded (a variable that
// binds several segments, per http.proto). Returns whether every '%' began
// a valid escape.
bool PercentDecode(absl::string_view in, bool plus_as_space, bool keep_slash,
                   std::string* out);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_ROUTE_TEMPLATE_H_
