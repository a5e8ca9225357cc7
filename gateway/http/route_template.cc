#include "gateway/http/route_template.h"

#include <cstddef>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cstopa::gateway::http {
namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

// A literal's characters: RFC 3986 pchar without ':' (the verb's mark) and
// without the template's own '{', '}', '*', '/'.
bool IsLiteralChar(char c) {
  if (IsIdentChar(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '+':
    case ',':
    case ';':
    case '=':
    case '@':
      return true;
    default:
      return false;
  }
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<PathTemplate> Parse() {
    if (!Consume('/')) return Error("does not begin with '/'");
    if (absl::Status s = Segments(/*in_variable=*/false); !s.ok()) return s;
    if (Consume(':')) {
      size_t begin = pos_;
      while (pos_ < text_.size() && IsLiteralChar(text_[pos_])) ++pos_;
      if (pos_ == begin) return Error("empty custom verb");
      out_.verb = std::string(text_.substr(begin, pos_ - begin));
    }
    if (pos_ != text_.size()) {
      return Error(absl::StrCat("unexpected '", text_.substr(pos_, 1),
                                "' at offset ", pos_));
    }
    for (size_t i = 0; i + 1 < out_.segments.size(); ++i) {
      if (out_.segments[i].kind == PathTemplate::kDoubleStar) {
        return Error("'**' is not the last segment");
      }
    }
    return std::move(out_);
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", text_, "\": ", what));
  }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }

  absl::Status Segments(bool in_variable) {
    do {
      if (absl::Status s = Segment(in_variable); !s.ok()) return s;
    } while (Consume('/'));
    return absl::OkStatus();
  }

  absl::Status Segment(bool in_variable) {
    if (Consume('*')) {
      if (Consume('*')) {
        out_.segments.push_back({PathTemplate::kDoubleStar, ""});
      } else {
        out_.segments.push_back({PathTemplate::kStar, ""});
      }
      return absl::OkStatus();
    }
    if (Peek('{')) {
      if (in_variable) return Error("nested variable");
      return Variable();
    }
    size_t begin = pos_;
    while (pos_ < text_.size() && IsLiteralChar(text_[pos_])) ++pos_;
    if (pos_ == begin) {
      return Error(absl::StrCat("empty segment at offset ", begin));
    }
    out_.segments.push_back({PathTemplate::kLiteral,
                             std::string(text_.substr(begin, pos_ - begin))});
    return absl::OkStatus();
  }

  absl::Status Variable() {
    Consume('{');
    size_t begin = pos_;
    for (;;) {
      if (pos_ >= text_.size() || !IsIdentStart(text_[pos_])) {
        return Error("bad field path in a variable");
      }
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      if (!Consume('.')) break;
    }
    std::string field(text_.substr(begin, pos_ - begin));
    if (!fields_.insert(field).second) {
      return Error(absl::StrCat("field ", field, " is bound twice"));
    }
    PathTemplate::Variable var;
    var.field_path = field;
    var.start = static_cast<int>(out_.segments.size());
    if (Consume('=')) {
      if (absl::Status s = Segments(/*in_variable=*/true); !s.ok()) return s;
    } else {
      out_.segments.push_back({PathTemplate::kStar, ""});
    }
    if (!Consume('}')) return Error("variable not closed by '}'");
    var.end = out_.segments.back().kind == PathTemplate::kDoubleStar
                  ? -1
                  : static_cast<int>(out_.segments.size());
    out_.variables.push_back(std::move(var));
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
  PathTemplate out_;
  std::set<std::string> fields_;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<PathTemplate> ParsePathTemplate(absl::string_view text) {
  return Parser(text).Parse();
}

bool PercentDecode(absl::string_view in, bool plus_as_space, bool keep_slash,
                   std::string* out) {
  bool valid = true;
  out->reserve(out->size() + in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        valid = false;
        out->push_back('%');
        continue;
      }
      char decoded = static_cast<char>(hi * 16 + lo);
      if (keep_slash && decoded == '/') {
        out->append(in.data() + i, 3);
      } else {
        out->push_back(decoded);
      }
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return valid;
}

}  // namespace cstopa::gateway::http
