#include "gateway/http/transcoder.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gateway/http/json_text.h"
#include "gateway/http/route_template.h"
#include "google/api/http.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/stubs/strutil.h"
#include "google/protobuf/type.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "google/rpc/status.pb.h"
#include "services/common/base/errors.h"

// The descriptor set the build embeds (proto/CMakeLists.txt,
// cstopa_descriptor_set_data).
extern const unsigned char kCstopaDescriptorSet[];
extern const size_t kCstopaDescriptorSetSize;

namespace cstopa::gateway::http {

namespace pb = google::protobuf;

namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";
// google.api.http, an extension of google.protobuf.MethodOptions.
constexpr int kHttpRuleFieldNumber = 72295728;

std::string TypeUrl(const pb::Descriptor& type) {
  return absl::StrCat(kTypeUrlPrefix, "/", type.full_name());
}

pb::StringPiece Piece(absl::string_view s) {
  return pb::StringPiece(s.data(), s.size());
}

// ---------------------------------------------------------------------------
// Type resolver: the pool's, with what it resolves kept (building a
// google.protobuf.Type from a descriptor each time costs more than copying).

class CachingTypeResolver : public pb::util::TypeResolver {
 public:
  explicit CachingTypeResolver(pb::util::TypeResolver* inner) : inner_(inner) {}

  pb::util::Status ResolveMessageType(const std::string& type_url,
                                      pb::Type* message_type) override {
    {
      absl::MutexLock lock(&mu_);
      auto it = types_.find(type_url);
      if (it != types_.end()) {
        message_type->CopyFrom(*it->second);
        return pb::util::Status();
      }
    }
    auto type = std::make_unique<pb::Type>();
    pb::util::Status status = inner_->ResolveMessageType(type_url, type.get());
    if (!status.ok()) return status;
    message_type->CopyFrom(*type);
    absl::MutexLock lock(&mu_);
    types_.try_emplace(type_url, std::move(type));
    return status;
  }

  pb::util::Status ResolveEnumType(const std::string& type_url,
                                   pb::Enum* enum_type) override {
    {
      absl::MutexLock lock(&mu_);
      auto it = enums_.find(type_url);
      if (it != enums_.end()) {
        enum_type->CopyFrom(*it->second);
        return pb::util::Status();
      }
    }
    auto type = std::make_unique<pb::Enum>();
    pb::util::Status status = inner_->ResolveEnumType(type_url, type.get());
    if (!status.ok()) return status;
    enum_type->CopyFrom(*type);
    absl::MutexLock lock(&mu_);
    enums_.try_emplace(type_url, std::move(type));
    return status;
  }

 private:
  std::unique_ptr<pb::util::TypeResolver> inner_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<pb::Type>> types_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<pb::Enum>> enums_
      ABSL_GUARDED_BY(mu_);
};

class FirstErrorCollector : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const pb::Message* descriptor, ErrorLocation location,
                const std::string& message) override {
    if (error.empty())
      error = absl::StrCat(filename, ": ", element_name, ": ", message);
  }
  std::string error;
};

// A value quoted in an error message: as a JSON string (so control
// characters and bytes that are not UTF-8 cannot get into the message),
// shortened past 64 bytes.
std::string Quote(absl::string_view value) {
  constexpr size_t kMax = 64;
  std::string out;
  if (value.size() <= kMax) {
    AppendJsonString(&out, value);
    return out;
  }
  size_t cut = kMax;
  // Not inside a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80)
    --cut;
  AppendJsonString(&out, value.substr(0, cut));
  out.insert(out.size() - 1, "...");
  return out;
}

bool IsBlank(absl::string_view s) {
  return absl::StripAsciiWhitespace(s).empty();
}

// ---------------------------------------------------------------------------
// Errors.

absl::Status Bad(absl::string_view field, absl::string_view description) {
  return common::InvalidArgument(field, description);
}

// protobuf's JSON parser names the field it stopped at first: "nope: Cannot
// find field." or "(etag): invalid value 5 for type TYPE_STRING"; that
// field (a path of JSON names), if any.
std::string FieldOfJsonError(absl::string_view message) {
  bool paren = !message.empty() && message[0] == '(';
  size_t i = paren ? 1 : 0;
  size_t begin = i;
  while (i < message.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(message[i])) ||
          message[i] == '_' || message[i] == '.' || message[i] == '[' ||
          message[i] == ']')) {
    ++i;
  }
  if (i == begin) return "";
  absl::string_view field = message.substr(begin, i - begin);
  if (paren) {
    if (i >= message.size() || message[i] != ')') return "";
    ++i;
  }
  if (i >= message.size() || message[i] != ':') return "";
  return std::string(field);
}

// ---------------------------------------------------------------------------
// Fields by name.

// A field of `type` by its proto name or its JSON name.
const pb::FieldDescriptor* FindField(const pb::Descriptor& type,
                                     absl::string_view name) {
  if (name.empty()) return nullptr;
  const pb::FieldDescriptor* f = type.FindFieldByName(std::string(name));
  if (f != nullptr) return f;
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == name) return type.field(i);
  }
  return nullptr;
}

bool IsWrapper(const pb::Descriptor& type) {
  static const auto* kWrappers = new std::set<std::string>{
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
      "google.protobuf.Int64Value",  "google.protobuf.UInt64Value",
      "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue",
      "google.protobuf.BytesValue"};
  return kWrappers->count(type.full_name()) > 0;
}

// "displayName.text" -> "display_name.text" (FieldMask paths arrive in
// either form).
std::string SnakeCasePath(absl::string_view path) {
  std::string out;
  out.reserve(path.size() + 4);
  for (char c : path) {
    if (c >= 'A' && c <= 'Z') {
      out.push_back('_');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool ParseDate(absl::string_view text, int* year, int* month, int* day) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  if (parts.empty() || parts.size() > 3) return false;
  int values[3] = {0, 0, 0};
  static const size_t kWidths[3] = {4, 2, 2};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].size() != kWidths[i]) return false;
    for (char c : parts[i]) {
      if (c < '0' || c > '9') return false;
    }
    if (!absl::SimpleAtoi(parts[i], &values[i])) return false;
  }
  if (values[0] < 1) return false;
  if (parts.size() >= 2 && (values[1] < 1 || values[1] > 12)) return false;
  if (parts.size() == 3) {
    static const int kDays[12] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int y = values[0], m = values[1];
    int max = kDays[m - 1];
    if (m == 2 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 28;
    if (values[2] < 1 || values[2] > max) return false;
  }
  *year = values[0];
  *month = values[1];
  *day = values[2];
  return true;
}

// Sets (or, for a repeated field, adds) the non-message field `f` of `m`
// from its text form. `param` names it in errors.
absl::Status SetScalar(pb::Message* m, const pb::FieldDescriptor* f,
                       absl::string_view v, absl::string_view param) {
  const pb::Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32: {
      int32_t x;
      if (!absl::SimpleAtoi(v, &x)) {
        return Bad(param, absl::StrCat(Quote(v), " is not an integer (int32)"));
      }
      rep ? r->AddInt32(m, f, x) : r->SetInt32(m, f, x);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      int64_t x;
      if (!absl::SimpleAtoi(v, &x)) {
        return Bad(param, absl::StrCat(Quote(v), " is not an integer (int64)"));
      }
      rep ? r->AddInt64(m, f, x) : r->SetInt64(m, f, x);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t x;
      if (v.empty() || v[0] == '-' || !absl::SimpleAtoi(v, &x)) {
        return Bad(param, absl::StrCat(Quote(v),
                                       " is not an unsigned integer (uint32)"));
      }
      rep ? r->AddUInt32(m, f, x) : r->SetUInt32(m, f, x);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t x;
      if (v.empty() || v[0] == '-' || !absl::SimpleAtoi(v, &x)) {
        return Bad(param, absl::StrCat(Quote(v),
                                       " is not an unsigned integer (uint64)"));
      }
      rep ? r->AddUInt64(m, f, x) : r->SetUInt64(m, f, x);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      double x;
      if (v == "NaN") {
        x = std::numeric_limits<double>::quiet_NaN();
      } else if (v == "Infinity") {
        x = std::numeric_limits<double>::infinity();
      } else if (v == "-Infinity") {
        x = -std::numeric_limits<double>::infinity();
      } else if (!absl::SimpleAtod(v, &x)) {
        return Bad(param, absl::StrCat(Quote(v), " is not a number"));
      }
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT) {
        float y = static_cast<float>(x);
        rep ? r->AddFloat(m, f, y) : r->SetFloat(m, f, y);
      } else {
        rep ? r->AddDouble(m, f, x) : r->SetDouble(m, f, x);
      }
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      bool x;
      if (v == "true") {
        x = true;
      } else if (v == "false") {
        x = false;
      } else {
        return Bad(param, absl::StrCat(Quote(v), " is not true or false"));
      }
      rep ? r->AddBool(m, f, x) : r->SetBool(m, f, x);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* e = f->enum_type();
      const pb::EnumValueDescriptor* ev = e->FindValueByName(std::string(v));
      int number;
      if (ev == nullptr && absl::SimpleAtoi(v, &number)) {
        ev = e->FindValueByNumber(number);
      }
      if (ev == nullptr) {
        return Bad(param, absl::StrCat(Quote(v), " is not a value of ",
                                       e->full_name()));
      }
      rep ? r->AddEnum(m, f, ev) : r->SetEnum(m, f, ev);
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string x;
      if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
        if (!absl::Base64Unescape(v, &x) &&
            !absl::WebSafeBase64Unescape(v, &x)) {
          return Bad(param, "is not base64");
        }
      } else {
        if (!IsUtf8(v)) return Bad(param, "is not valid UTF-8");
        x = std::string(v);
      }
      rep ? r->AddString(m, f, std::move(x)) : r->SetString(m, f, std::move(x));
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return Bad(param, "is a message");
}

// ---------------------------------------------------------------------------
// Matching.

struct Node {
  absl::flat_hash_map<std::string, int> literals;
  int star = -1;
  int double_star = -1;
  // verb ("" for none) -> entry
  std::vector<std::pair<std::string, int>> ends;
};

using Segments = absl::InlinedVector<absl::string_view, 12>;

}  // namespace

struct RouteTable::Compiled {
  struct Entry {
    int route = 0;
    std::vector<PathTemplate::Variable> variables;
  };
  std::string http_method;
  std::vector<Node> nodes;  // [0] is the root
  std::vector<Entry> entries;
  // The most segments a template has, or SIZE_MAX when one ends in `**`.
  size_t max_segments = 0;

  // The entry whose template matches `segs` (and `verb`) from node `at`,
  // segment `i`: literals first, then `*`, then `**`; -1 if none.
  int Match(int at, size_t i, const Segments& segs,
            absl::string_view verb) const {
    const Node& node = nodes[at];
    if (i == segs.size()) {
      for (const auto& [v, entry] : node.ends) {
        if (v == verb) return entry;
      }
    } else {
      if (!node.literals.empty()) {
        auto it = node.literals.find(segs[i]);
        if (it != node.literals.end()) {
          int found = Match(it->second, i + 1, segs, verb);
          if (found >= 0) return found;
        }
      }
      if (node.star >= 0 && !segs[i].empty()) {
        int found = Match(node.star, i + 1, segs, verb);
        if (found >= 0) return found;
      }
    }
    if (node.double_star >= 0) {
      for (const auto& [v, entry] : nodes[node.double_star].ends) {
        if (v == verb) return entry;
      }
    }
    return -1;
  }

  // Tries the last segment split at its last ':' (a custom verb) first,
  // then whole. `*used` gets the segments the match used.
  int Find(const Segments& segs, Segments* used) const {
    if (segs.size() > max_segments) return -1;
    absl::string_view last = segs.back();
    size_t colon = last.rfind(':');
    if (colon != absl::string_view::npos) {
      Segments split = segs;
      split.back() = last.substr(0, colon);
      int found = Match(0, 0, split, last.substr(colon + 1));
      if (found >= 0) {
        if (used != nullptr) *used = std::move(split);
        return found;
      }
    }
    int found = Match(0, 0, segs, "");
    if (found >= 0 && used != nullptr) *used = segs;
    return found;
  }
};

// ---------------------------------------------------------------------------
// ApiDescriptors

ApiDescriptors::ApiDescriptors() : factory_(&pool_) {}

absl::StatusOr<std::unique_ptr<ApiDescriptors>> ApiDescriptors::Load() {
  return FromSet(
      absl::string_view(reinterpret_cast<const char*>(kCstopaDescriptorSet),
                        kCstopaDescriptorSetSize));
}

absl::StatusOr<std::unique_ptr<ApiDescriptors>> ApiDescriptors::FromSet(
    absl::string_view serialized_set) {
  pb::FileDescriptorSet set;
  if (serialized_set.size() > static_cast<size_t>(INT32_MAX) ||
      !set.ParseFromArray(serialized_set.data(),
                          static_cast<int>(serialized_set.size()))) {
    return absl::InvalidArgumentError(
        "the descriptor set is not a google.protobuf.FileDescriptorSet");
  }
  std::unique_ptr<ApiDescriptors> api(new ApiDescriptors());
  std::map<std::string, const pb::FileDescriptorProto*> by_name;
  for (const auto& file : set.file()) by_name.emplace(file.name(), &file);

  // Each file after its dependencies.
  std::set<std::string> visiting;
  std::function<absl::Status(const pb::FileDescriptorProto&)> build =
      [&](const pb::FileDescriptorProto& file) -> absl::Status {
    if (api->pool_.FindFileByName(file.name()) != nullptr) {
      return absl::OkStatus();
    }
    if (!visiting.insert(file.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set: import cycle through ", file.name()));
    }
    for (const std::string& dep : file.dependency()) {
      auto it = by_name.find(dep);
      if (it == by_name.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("descriptor set: ", file.name(), " imports ", dep,
                         ", which the set does not hold"));
      }
      if (absl::Status s = build(*it->second); !s.ok()) return s;
    }
    FirstErrorCollector errors;
    if (api->pool_.BuildFileCollectingErrors(file, &errors) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set: ", errors.error));
    }
    return absl::OkStatus();
  };
  for (const auto& file : set.file()) {
    if (absl::Status s = build(file); !s.ok()) return s;
  }
  for (const auto& proto : set.file()) {
    if (!absl::StartsWith(proto.package(), "cstopa.")) continue;
    // Batches of reads are how a client saves gRPC calls to one server,
    // not part of the record's API: HTTP has nothing to batch.
    if (absl::StartsWith(proto.package(), "cstopa.batch.")) continue;
    const pb::FileDescriptor* file = api->pool_.FindFileByName(proto.name());
    for (int i = 0; i < file->service_count(); ++i) {
      api->services_.push_back(file->service(i));
    }
  }
  api->resolver_ = std::make_unique<CachingTypeResolver>(
      pb::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, &api->pool_));
  return api;
}

// ---------------------------------------------------------------------------
// RouteTable

namespace {

// The method's google.api.http rule, read from the options' wire form so
// that it does not matter whether the extension is linked in.
bool HttpRuleOf(const pb::MethodDescriptor& method,
                google::api::HttpRule* rule) {
  std::string bytes = method.options().SerializeAsString();
  pb::UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return false;
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& f = fields.field(i);
    if (f.number() == kHttpRuleFieldNumber &&
        f.type() == pb::UnknownField::TYPE_LENGTH_DELIMITED) {
      return rule->ParseFromString(f.length_delimited());
    }
  }
  return false;
}

// The field a template's variable (or the body) names, checked.
absl::Status CheckFieldPath(const pb::Descriptor& input, absl::string_view path,
                            bool for_body) {
  const pb::Descriptor* type = &input;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const pb::FieldDescriptor* f = type->FindFieldByName(std::string(parts[i]));
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(input.full_name(), " has no field ", path));
    }
    if (i + 1 < parts.size()) {
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE ||
          f->is_repeated()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": ", parts[i], " is not a singular message field"));
      }
      type = f->message_type();
    } else if (!for_body &&
               (f->is_repeated() ||
                f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is not a singular scalar field"));
    }
  }
  if (for_body && parts.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("body ", path, " is not a top-level field"));
  }
  return absl::OkStatus();
}

absl::Status AddRoute(const pb::MethodDescriptor& method,
                      const google::api::HttpRule& rule,
                      std::vector<Route>* routes,
                      std::vector<PathTemplate>* templates) {
  Route route;
  route.method = &method;
  route.server_streaming = method.server_streaming();
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      route.http_method = "GET";
      route.path_template = rule.get();
      break;
    case google::api::HttpRule::kPut:
      route.http_method = "PUT";
      route.path_template = rule.put();
      break;
    case google::api::HttpRule::kPost:
      route.http_method = "POST";
      route.path_template = rule.post();
      break;
    case google::api::HttpRule::kDelete:
      route.http_method = "DELETE";
      route.path_template = rule.delete_();
      break;
    case google::api::HttpRule::kPatch:
      route.http_method = "PATCH";
      route.path_template = rule.patch();
      break;
    case google::api::HttpRule::kCustom:
      route.http_method = rule.custom().kind();
      route.path_template = rule.custom().path();
      break;
    case google::api::HttpRule::PATTERN_NOT_SET:
      return absl::InvalidArgumentError("no HTTP method and path");
  }
  if (route.http_method.empty()) {
    return absl::InvalidArgumentError("empty HTTP method");
  }
  route.body = rule.body();
  absl::StatusOr<PathTemplate> parsed = ParsePathTemplate(route.path_template);
  if (!parsed.ok()) return parsed.status();
  for (const auto& var : parsed->variables) {
    if (absl::Status s = CheckFieldPath(*method.input_type(), var.field_path,
                                        /*for_body=*/false);
        !s.ok()) {
      return s;
    }
    route.path_fields.push_back(var.field_path);
  }
  if (!route.body.empty() && route.body != "*") {
    if (absl::Status s =
            CheckFieldPath(*method.input_type(), route.body, /*for_body=*/true);
        !s.ok()) {
      return s;
    }
  }
  routes->push_back(std::move(route));
  templates->push_back(*std::move(parsed));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RouteTable> RouteTable::Build(const ApiDescriptors& api) {
  RouteTable table;
  std::vector<PathTemplate> templates;
  for (const pb::ServiceDescriptor* service : api.services()) {
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor& method = *service->method(i);
      google::api::HttpRule rule;
      if (!HttpRuleOf(method, &rule)) continue;
      std::vector<const google::api::HttpRule*> rules = {&rule};
      for (const auto& extra : rule.additional_bindings())
        rules.push_back(&extra);
      for (const google::api::HttpRule* r : rules) {
        if (absl::Status s = AddRoute(method, *r, &table.routes_, &templates);
            !s.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "google.api.http of ", method.full_name(), ": ", s.message()));
        }
      }
    }
  }

  auto compiled = std::make_shared<std::vector<Compiled>>();
  for (size_t r = 0; r < table.routes_.size(); ++r) {
    const Route& route = table.routes_[r];
    const PathTemplate& tmpl = templates[r];
    Compiled* c = nullptr;
    for (auto& existing : *compiled) {
      if (existing.http_method == route.http_method) c = &existing;
    }
    if (c == nullptr) {
      compiled->emplace_back();
      c = &compiled->back();
      c->http_method = route.http_method;
      c->nodes.emplace_back();
    }
    bool rest = !tmpl.segments.empty() &&
                tmpl.segments.back().kind == PathTemplate::kDoubleStar;
    c->max_segments =
        rest ? SIZE_MAX : std::max(c->max_segments, tmpl.segments.size());
    int at = 0;
    for (const auto& seg : tmpl.segments) {
      int next;
      switch (seg.kind) {
        case PathTemplate::kLiteral: {
          auto it = c->nodes[at].literals.find(seg.literal);
          if (it != c->nodes[at].literals.end()) {
            next = it->second;
          } else {
            next = static_cast<int>(c->nodes.size());
            c->nodes[at].literals.emplace(seg.literal, next);
            c->nodes.emplace_back();
          }
          break;
        }
        case PathTemplate::kStar:
          next = c->nodes[at].star;
          if (next < 0) {
            next = static_cast<int>(c->nodes.size());
            c->nodes[at].star = next;
            c->nodes.emplace_back();
          }
          break;
        case PathTemplate::kDoubleStar:
        default:
          next = c->nodes[at].double_star;
          if (next < 0) {
            next = static_cast<int>(c->nodes.size());
            c->nodes[at].double_star = next;
            c->nodes.emplace_back();
          }
          break;
      }
      at = next;
    }
    bool taken = false;
    for (const auto& end : c->nodes[at].ends) taken |= end.first == tmpl.verb;
    // Two methods on one method and template: the first keeps it.
    if (taken) continue;
    c->nodes[at].ends.emplace_back(tmpl.verb,
                                   static_cast<int>(c->entries.size()));
    c->entries.push_back({static_cast<int>(r), tmpl.variables});
  }
  table.compiled_ = std::move(compiled);
  return table;
}

RouteMatch RouteTable::Find(absl::string_view http_method,
                            absl::string_view path) const {
  RouteMatch match;
  if (path.empty() || path[0] != '/' || compiled_ == nullptr) return match;
  if (http_method == "HEAD") http_method = "GET";
  Segments segs;
  for (size_t start = 1;;) {
    size_t slash = path.find('/', start);
    if (slash == absl::string_view::npos) {
      segs.push_back(path.substr(start));
      break;
    }
    segs.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }

  for (const Compiled& c : *compiled_) {
    if (c.http_method != http_method) continue;
    Segments used;
    int entry = c.Find(segs, &used);
    if (entry < 0) break;
    const Compiled::Entry& e = c.entries[entry];
    match.miss = RouteMatch::kMatched;
    match.route = &routes_[e.route];
    match.bindings.reserve(e.variables.size());
    for (const auto& var : e.variables) {
      size_t end = var.end < 0 ? used.size() : static_cast<size_t>(var.end);
      size_t start = static_cast<size_t>(var.start);
      std::string value;
      if (start < end) {
        const char* from = used[start].data();
        const char* to = used[end - 1].data() + used[end - 1].size();
        bool multi = end - start > 1 || var.end < 0;
        PercentDecode(absl::string_view(from, static_cast<size_t>(to - from)),
                      /*plus_as_space=*/false, /*keep_slash=*/multi, &value);
      }
      match.bindings.emplace_back(var.field_path, std::move(value));
    }
    return match;
  }

  // The methods the path does take.
  static const char* const kOrder[] = {"GET", "HEAD",  "POST",
                                       "PUT", "PATCH", "DELETE"};
  std::vector<std::string> allowed;
  for (const Compiled& c : *compiled_) {
    if (c.Find(segs, nullptr) >= 0) allowed.push_back(c.http_method);
  }
  if (allowed.empty()) return match;
  std::stable_sort(allowed.begin(), allowed.end(),
                   [](const std::string& a, const std::string& b) {
                     auto rank = [](const std::string& m) {
                       for (size_t i = 0; i < 6; ++i) {
                         if (m == kOrder[i]) return i;
                       }
                       return size_t{6};
                     };
                     return rank(a) < rank(b);
                   });
  match.miss = RouteMatch::kWrongMethod;
  match.allow = absl::StrJoin(allowed, ", ");
  return match;
}

// ---------------------------------------------------------------------------
// Transcoder

Transcoder::Transcoder(ApiDescriptors* api) : api_(api) {}

namespace {

// Where a query parameter or binding lands: the message holding the field,
// and the field.
struct Target {
  pb::Message* message = nullptr;
  const pb::FieldDescriptor* field = nullptr;
  std::string path;  // proto names, dotted
};

// Follows a dotted path of proto or JSON names from `root`, making the
// intermediate messages. `param` names the path in errors.
absl::StatusOr<Target> Resolve(pb::Message* root, absl::string_view dotted,
                               absl::string_view param) {
  Target t;
  t.message = root;
  size_t start = 0;
  for (;;) {
    size_t dot = dotted.find('.', start);
    absl::string_view name = dotted.substr(start, dot == absl::string_view::npos
                                                      ? absl::string_view::npos
                                                      : dot - start);
    const pb::Descriptor& type = *t.message->GetDescriptor();
    const pb::FieldDescriptor* f = FindField(type, name);
    if (f == nullptr) {
      return Bad(param, absl::StrCat("unknown parameter: ", type.full_name(),
                                     " has no field \"", name, "\""));
    }
    if (!t.path.empty()) t.path.push_back('.');
    t.path.append(f->name());
    if (dot == absl::string_view::npos) {
      t.field = f;
      return t;
    }
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE ||
        f->is_repeated()) {
      return Bad(param, absl::StrCat(t.path, " is not a singular message: ",
                                     "its parts cannot be set"));
    }
    t.message = t.message->GetReflection()->MutableMessage(t.message, f);
    start = dot + 1;
  }
}

}  // namespace

absl::StatusOr<std::string> Transcoder::RequestBytes(
    const RouteMatch& match, absl::string_view query,
    absl::string_view body) const {
  if (match.route == nullptr || match.route->method == nullptr) {
    return absl::InvalidArgumentError("no route");
  }
  const Route& route = *match.route;
  const pb::Descriptor& input = *route.method->input_type();
  std::unique_ptr<pb::Message> request(
      api_->factory()->GetPrototype(&input)->New());

  // 1. The body.
  const pb::FieldDescriptor* body_field = nullptr;
  if (route.body.empty()) {
    if (!IsBlank(body)) {
      return Bad("", absl::StrCat(route.http_method, " ", route.path_template,
                                  " takes no request body"));
    }
  } else {
    if (route.body != "*") body_field = input.FindFieldByName(route.body);
    if (!IsBlank(body)) {
      pb::util::JsonParseOptions options;
      options.ignore_unknown_fields = false;
      std::string binary;
      pb::Message* into = request.get();
      const pb::Descriptor* type = &input;
      bool wrapped = false;
      std::string wrapper;
      absl::string_view json = body;
      if (body_field != nullptr) {
        if (body_field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
            !body_field->is_repeated()) {
          type = body_field->message_type();
          into = request->GetReflection()->MutableMessage(request.get(),
                                                          body_field);
        } else {
          // A scalar, repeated or map field: {"<field>": <body>}.
          wrapped = true;
          wrapper = absl::StrCat("{", "\"", body_field->json_name(),
                                 "\":", body, "\n}");
          json = wrapper;
        }
      }
      if (!IsUtf8(body)) {
        return Bad(route.body == "*" ? "" : route.body,
                   "the request body is not valid UTF-8");
      }
      pb::util::Status status = pb::util::JsonToBinaryString(
          api_->type_resolver(), TypeUrl(*type), Piece(json), &binary, options);
      if (!status.ok()) {
        // Its first line (the rest echoes the body with a caret).
        absl::string_view full(status.message().data(),
                               status.message().size());
        std::string message(full.substr(0, full.find('\n')));
        std::string field = FieldOfJsonError(message);
        if (body_field != nullptr && !wrapped) {
          field =
              field.empty() ? route.body : absl::StrCat(route.body, ".", field);
        } else if (body_field != nullptr) {
          field = route.body;
        }
        return Bad(field, absl::StrCat("invalid JSON body: ", message));
      }
      if (!into->ParseFromString(binary)) {
        return Bad(route.body == "*" ? "" : route.body,
                   "the request body is not valid (a string is not UTF-8?)");
      }
      if (wrapped) {
        std::vector<const pb::FieldDescriptor*> set;
        request->GetReflection()->ListFields(*request, &set);
        for (const pb::FieldDescriptor* f : set) {
          if (f != body_field) {
            return Bad(route.body, "the request body is not one JSON value");
          }
        }
      }
    }
  }

  // 2. The query string.
  std::set<std::string> seen;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    size_t eq = pair.find('=');
    absl::string_view raw_key = pair.substr(0, eq);
    absl::string_view raw_value = eq == absl::string_view::npos
                                      ? absl::string_view()
                                      : pair.substr(eq + 1);
    std::string key, value;
    PercentDecode(raw_key, /*plus_as_space=*/true, /*keep_slash=*/false, &key);
    PercentDecode(raw_value, /*plus_as_space=*/true, /*keep_slash=*/false,
                  &value);
    if (!IsUtf8(key)) return Bad("", "a query parameter's name is not UTF-8");
    if (key.empty()) return Bad("", "a query parameter has no name");
    if (route.body == "*") {
      return Bad(key, absl::StrCat("unknown parameter: ", route.http_method,
                                   " ", route.path_template,
                                   " takes every field in the request body"));
    }
    absl::StatusOr<Target> target = Resolve(request.get(), key, key);
    if (!target.ok()) return target.status();
    const pb::FieldDescriptor* f = target->field;
    if (body_field != nullptr) {
      absl::string_view top =
          absl::string_view(target->path).substr(0, target->path.find('.'));
      if (top == body_field->name()) {
        return Bad(key, absl::StrCat("is in the request body (", route.body,
                                     "), not a query parameter"));
      }
    }
    if (f->is_map()) {
      return Bad(key, "a map field cannot be set by a query parameter");
    }
    if (!f->is_repeated() && !seen.insert(target->path).second) {
      return Bad(key, "is given more than once");
    }
    pb::Message* m = target->message;
    const pb::Reflection* r = m->GetReflection();
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (absl::Status s = SetScalar(m, f, value, key); !s.ok()) return s;
      continue;
    }
    // A message in its text (JSON string) form.
    const pb::Descriptor& type = *f->message_type();
    const std::string& name = type.full_name();
    pb::Message* sub =
        f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
    if (name == "google.type.Date") {
      int year, month, day;
      if (!ParseDate(value, &year, &month, &day)) {
        return Bad(key,
                   absl::StrCat(Quote(value), " is not a date (YYYY-MM-DD)"));
      }
      const pb::Reflection* sr = sub->GetReflection();
      sr->SetInt32(sub, type.FindFieldByName("year"), year);
      sr->SetInt32(sub, type.FindFieldByName("month"), month);
      sr->SetInt32(sub, type.FindFieldByName("day"), day);
    } else if (name == "google.protobuf.FieldMask") {
      const pb::FieldDescriptor* paths = type.FindFieldByName("paths");
      for (absl::string_view p :
           absl::StrSplit(value, ',', absl::SkipEmpty())) {
        p = absl::StripAsciiWhitespace(p);
        if (p.empty()) continue;
        if (!IsUtf8(p)) return Bad(key, "is not valid UTF-8");
        sub->GetReflection()->AddString(sub, paths, SnakeCasePath(p));
      }
    } else if (IsWrapper(type)) {
      if (absl::Status s =
              SetScalar(sub, type.FindFieldByName("value"), value, key);
          !s.ok()) {
        return s;
      }
    } else if (name == "google.protobuf.Timestamp" ||
               name == "google.protobuf.Duration") {
      std::string json;
      AppendJsonString(&json, value);
      std::string binary;
      pb::util::Status status = pb::util::JsonToBinaryString(
          api_->type_resolver(), TypeUrl(type), Piece(json), &binary,
          pb::util::JsonParseOptions());
      if (!status.ok() || !sub->ParseFromString(binary)) {
        return Bad(
            key,
            absl::StrCat(Quote(value), " is not a ",
                         name == "google.protobuf.Timestamp"
                             ? "timestamp (RFC 3339, e.g. 2022-05-01T10:00:00Z)"
                             : "duration (e.g. 1.5s)"));
      }
    } else {
      return Bad(
          key, absl::StrCat("is a message (", name, "): set its fields, e.g. ",
                            key, ".<field>"));
    }
  }

  // 3. The path's bindings.
  for (const auto& [path, value] : match.bindings) {
    absl::StatusOr<Target> target = Resolve(request.get(), path, path);
    if (!target.ok()) return target.status();
    pb::Message* m = target->message;
    const pb::FieldDescriptor* f = target->field;
    const pb::Reflection* r = m->GetReflection();
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      if (f->type() == pb::FieldDescriptor::TYPE_STRING && !IsUtf8(value)) {
        return Bad(path, "the value in the URL path is not valid UTF-8");
      }
      if (r->HasField(*m, f)) {
        std::string current = r->GetString(*m, f);
        if (current != value) {
          return Bad(path, absl::StrCat("is ", Quote(value),
                                        " in the URL path but ", Quote(current),
                                        " in the request body or query"));
        }
        continue;
      }
      r->SetString(m, f, value);
    } else {
      bool was_set = r->HasField(*m, f);
      std::unique_ptr<pb::Message> before;
      if (was_set) {
        before.reset(m->New());
        before->CopyFrom(*m);
      }
      if (absl::Status s = SetScalar(m, f, value, path); !s.ok()) return s;
      if (was_set) {
        // Compare through the wire form of the one field.
        std::unique_ptr<pb::Message> after(m->New());
        after->CopyFrom(*m);
        const pb::Reflection* br = before->GetReflection();
        std::vector<const pb::FieldDescriptor*> others;
        br->ListFields(*before, &others);
        for (const auto* o : others) {
          if (o != f) {
            br->ClearField(before.get(), o);
            after->GetReflection()->ClearField(after.get(), o);
          }
        }
        if (before->SerializeAsString() != after->SerializeAsString()) {
          return Bad(path,
                     absl::StrCat("is ", Quote(value),
                                  " in the URL path but differs in the request "
                                  "body or query"));
        }
      }
    }
  }

  std::string out;
  if (!request->SerializeToString(&out)) {
    return absl::InternalError("the request did not serialize");
  }
  return out;
}

namespace {

// The proto3 JSON mapping (as protobuf prints it by default: JSON names,
// enums by name, 64-bit integers as strings, no default values), by
// reflection over a parsed message: faster than protobuf's binary-to-JSON
// converter, which resolves every type again on every call. An Any whose
// type the descriptors do not know prints as {"@type": <url>} only.
// google.protobuf.Struct/Value/ListValue (not used by the APIs) are left to
// protobuf's converter: Write returns false.
class JsonWriter {
 public:
  JsonWriter(ApiDescriptors* api, std::string* out) : api_(api), out_(out) {}

  bool Write(const pb::Message& m, int depth) {
    if (depth > 100) return false;
    const pb::Descriptor& type = *m.GetDescriptor();
    if (type.file()->name().rfind("google/protobuf/", 0) == 0) {
      const std::string& name = type.full_name();
      if (name == "google.protobuf.Any") return WriteAny(m, depth);
      if (name == "google.protobuf.Timestamp") return WriteTimestamp(m);
      if (name == "google.protobuf.Duration") return WriteDuration(m);
      if (name == "google.protobuf.FieldMask") return WriteFieldMask(m);
      if (IsWrapper(type)) {
        const pb::FieldDescriptor* value = type.FindFieldByName("value");
        return value != nullptr && WriteValue(m, value, -1, depth);
      }
      if (name == "google.protobuf.Struct" || name == "google.protobuf.Value" ||
          name == "google.protobuf.ListValue") {
        return false;
      }
    }
    out_->push_back('{');
    bool first = true;
    if (!WriteFields(m, depth, &first)) return false;
    out_->push_back('}');
    return true;
  }

 private:
  bool WriteFields(const pb::Message& m, int depth, bool* first) {
    const pb::Reflection* r = m.GetReflection();
    fields_.clear();
    r->ListFields(m, &fields_);
    std::vector<const pb::FieldDescriptor*> fields;
    fields.swap(fields_);
    for (const pb::FieldDescriptor* f : fields) {
      if (!*first) out_->push_back(',');
      *first = false;
      out_->push_back('"');
      out_->append(f->json_name());
      out_->append("\":");
      if (f->is_map()) {
        const pb::FieldDescriptor* key = f->message_type()->map_key();
        const pb::FieldDescriptor* value = f->message_type()->map_value();
        out_->push_back('{');
        int n = r->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out_->push_back(',');
          const pb::Message& entry = r->GetRepeatedMessage(m, f, i);
          if (!WriteMapKey(entry, key)) return false;
          out_->push_back(':');
          if (!WriteValue(entry, value, -1, depth + 1)) return false;
        }
        out_->push_back('}');
      } else if (f->is_repeated()) {
        out_->push_back('[');
        int n = r->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out_->push_back(',');
          if (!WriteValue(m, f, i, depth + 1)) return false;
        }
        out_->push_back(']');
      } else {
        if (!WriteValue(m, f, -1, depth + 1)) return false;
      }
    }
    fields.clear();
    fields_.swap(fields);
    return true;
  }

  bool WriteMapKey(const pb::Message& entry, const pb::FieldDescriptor* key) {
    const pb::Reflection* r = entry.GetReflection();
    switch (key->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        AppendJsonString(out_, r->GetStringReference(entry, key, &scratch));
        return true;
      }
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append(r->GetBool(entry, key) ? "\"true\"" : "\"false\"");
        return true;
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(out_, "\"", r->GetInt32(entry, key), "\"");
        return true;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(out_, "\"", r->GetInt64(entry, key), "\"");
        return true;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(out_, "\"", r->GetUInt32(entry, key), "\"");
        return true;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(out_, "\"", r->GetUInt64(entry, key), "\"");
        return true;
      default:
        return false;
    }
  }

  void WriteDouble(double d, bool is_float) {
    if (std::isnan(d)) {
      out_->append("\"NaN\"");
    } else if (std::isinf(d)) {
      out_->append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else if (is_float) {
      out_->append(pb::SimpleFtoa(static_cast<float>(d)));
    } else {
      out_->append(pb::SimpleDtoa(d));
    }
  }

  // Field `f` of `m` (element `index` of a repeated one; -1 for singular).
  bool WriteValue(const pb::Message& m, const pb::FieldDescriptor* f, int index,
                  int depth) {
    const pb::Reflection* r = m.GetReflection();
    const bool rep = index >= 0;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(
            out_, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
        return true;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(
            out_, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
        return true;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(
            out_, "\"",
            rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f), "\"");
        return true;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(
            out_, "\"",
            rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f), "\"");
        return true;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        WriteDouble(
            rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f),
            false);
        return true;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        WriteDouble(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f),
                    true);
        return true;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                         ? "true"
                         : "false");
        return true;
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        int number =
            rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
        if (f->enum_type()->full_name() == "google.protobuf.NullValue") {
          out_->append("null");
          return true;
        }
        const pb::EnumValueDescriptor* v =
            f->enum_type()->FindValueByNumber(number);
        if (v == nullptr) {
          absl::StrAppend(out_, number);
        } else {
          out_->push_back('"');
          out_->append(v->name());
          out_->push_back('"');
        }
        return true;
      }
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value =
            rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                : r->GetStringReference(m, f, &scratch);
        if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
          out_->push_back('"');
          out_->append(absl::Base64Escape(value));
          out_->push_back('"');
        } else {
          AppendJsonString(out_, value);
        }
        return true;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        return Write(
            rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f),
            depth);
    }
    return false;
  }

  static int64_t Int64Field(const pb::Message& m, const char* name) {
    const pb::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
    return f == nullptr ? 0 : m.GetReflection()->GetInt64(m, f);
  }
  static int32_t Int32Field(const pb::Message& m, const char* name) {
    const pb::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
    return f == nullptr ? 0 : m.GetReflection()->GetInt32(m, f);
  }

  bool WriteTimestamp(const pb::Message& m) {
    int64_t seconds = Int64Field(m, "seconds");
    int32_t nanos = Int32Field(m, "nanos");
    // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z
    if (seconds < -62135596800LL || seconds > 253402300799LL || nanos < 0 ||
        nanos > 999999999) {
      return false;
    }
    absl::CivilSecond t = absl::ToCivilSecond(absl::FromUnixSeconds(seconds),
                                              absl::UTCTimeZone());
    char buf[40];
    auto digits = [&](char* at, int64_t value, int width) {
      for (int i = width - 1; i >= 0; --i) {
        at[i] = static_cast<char>('0' + value % 10);
        value /= 10;
      }
    };
    digits(buf, t.year(), 4);
    buf[4] = '-';
    digits(buf + 5, t.month(), 2);
    buf[7] = '-';
    digits(buf + 8, t.day(), 2);
    buf[10] = 'T';
    digits(buf + 11, t.hour(), 2);
    buf[13] = ':';
    digits(buf + 14, t.minute(), 2);
    buf[16] = ':';
    digits(buf + 17, t.second(), 2);
    size_t n = 19;
    if (nanos != 0) {
      buf[n++] = '.';
      if (nanos % 1000000 == 0) {
        digits(buf + n, nanos / 1000000, 3);
        n += 3;
      } else if (nanos % 1000 == 0) {
        digits(buf + n, nanos / 1000, 6);
        n += 6;
      } else {
        digits(buf + n, nanos, 9);
        n += 9;
      }
    }
    buf[n++] = 'Z';
    out_->push_back('"');
    out_->append(buf, n);
    out_->push_back('"');
    return true;
  }

  bool WriteDuration(const pb::Message& m) {
    pb::Duration d;
    d.set_seconds(Int64Field(m, "seconds"));
    d.set_nanos(Int32Field(m, "nanos"));
    if (d.seconds() < -315576000000LL || d.seconds() > 315576000000LL ||
        d.nanos() < -999999999 || d.nanos() > 999999999 ||
        (d.seconds() > 0 && d.nanos() < 0) ||
        (d.seconds() < 0 && d.nanos() > 0)) {
      return false;
    }
    out_->push_back('"');
    out_->append(pb::util::TimeUtil::ToString(d));
    out_->push_back('"');
    return true;
  }

  bool WriteFieldMask(const pb::Message& m) {
    const pb::FieldDescriptor* paths =
        m.GetDescriptor()->FindFieldByName("paths");
    if (paths == nullptr) return false;
    const pb::Reflection* r = m.GetReflection();
    std::string joined;
    for (int i = 0; i < r->FieldSize(m, paths); ++i) {
      if (i > 0) joined.push_back(',');
      std::string scratch;
      const std::string& path =
          r->GetRepeatedStringReference(m, paths, i, &scratch);
      bool upper = false;
      for (char c : path) {
        if (c == '_') {
          upper = true;
        } else {
          joined.push_back(upper && c >= 'a' && c <= 'z'
                               ? static_cast<char>(c - 'a' + 'A')
                               : c);
          upper = false;
        }
      }
    }
    AppendJsonString(out_, joined);
    return true;
  }

  bool WriteAny(const pb::Message& m, int depth) {
    const pb::Descriptor& type = *m.GetDescriptor();
    const pb::FieldDescriptor* url_field = type.FindFieldByName("type_url");
    const pb::FieldDescriptor* value_field = type.FindFieldByName("value");
    if (url_field == nullptr || value_field == nullptr) return false;
    const pb::Reflection* r = m.GetReflection();
    std::string url_scratch, value_scratch;
    const std::string& url = r->GetStringReference(m, url_field, &url_scratch);
    const std::string& value =
        r->GetStringReference(m, value_field, &value_scratch);
    if (url.empty() && value.empty()) {
      out_->append("{}");
      return true;
    }
    out_->append("{\"@type\":");
    AppendJsonString(out_, url);
    const pb::Descriptor* packed = nullptr;
    if (absl::StartsWith(url, absl::StrCat(kTypeUrlPrefix, "/"))) {
      packed = api_->pool().FindMessageTypeByName(
          url.substr(sizeof(kTypeUrlPrefix)));
    }
    if (packed != nullptr) {
      std::unique_ptr<pb::Message> inner(
          api_->factory()->GetPrototype(packed)->New());
      if (inner->ParseFromString(value)) {
        size_t mark = out_->size();
        bool special =
            packed->file()->name().rfind("google/protobuf/", 0) == 0 &&
            (packed->full_name() == "google.protobuf.Timestamp" ||
             packed->full_name() == "google.protobuf.Duration" ||
             packed->full_name() == "google.protobuf.FieldMask" ||
             packed->full_name() == "google.protobuf.Any" ||
             IsWrapper(*packed));
        bool ok;
        if (special) {
          out_->append(",\"value\":");
          ok = Write(*inner, depth + 1);
        } else {
          bool first = false;
          ok = WriteFields(*inner, depth + 1, &first);
        }
        if (!ok) out_->resize(mark);  // just the "@type"
      }
    }
    out_->push_back('}');
    return true;
  }

  ApiDescriptors* api_;
  std::string* out_;
  std::vector<const pb::FieldDescriptor*> fields_;
};

}  // namespace

absl::StatusOr<std::string> Transcoder::ResponseJson(
    const pb::Descriptor& type, absl::string_view bytes) const {
  // The compiled-in class of the type when the binary links it (the
  // gateway links every API's): it parses several times faster than a
  // DynamicMessage. The same proto, so the same JSON.
  const pb::Message* prototype = nullptr;
  if (const pb::Descriptor* generated =
          pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
              type.full_name());
      generated != nullptr) {
    prototype =
        pb::MessageFactory::generated_factory()->GetPrototype(generated);
  }
  if (prototype == nullptr) prototype = api_->factory()->GetPrototype(&type);
  std::unique_ptr<pb::Message> message(prototype->New());
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !message->ParsePartialFromArray(bytes.data(),
                                      static_cast<int>(bytes.size()))) {
    return absl::InternalError(
        absl::StrCat("the answer is not a valid ", type.full_name()));
  }
  std::string json;
  json.reserve(bytes.size() * 2 + 16);
  if (JsonWriter(api_, &json).Write(*message, 0)) return json;
  // A type the writer leaves to protobuf's converter.
  json.clear();
  pb::util::Status status = pb::util::BinaryToJsonString(
      api_->type_resolver(), TypeUrl(type), std::string(bytes), &json,
      pb::util::JsonPrintOptions());
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat(
        "the answer (", type.full_name(), ") does not print as JSON: ",
        std::string(status.message().data(), status.message().size())));
  }
  return json;
}

int Transcoder::HttpStatusOf(int grpc_code) {
  switch (grpc_code) {
    case 0:
      return 200;  // OK
    case 1:
      return 499;  // CANCELLED
    case 2:
      return 500;  // UNKNOWN
    case 3:
      return 400;  // INVALID_ARGUMENT
    case 4:
      return 504;  // DEADLINE_EXCEEDED
    case 5:
      return 404;  // NOT_FOUND
    case 6:
      return 409;  // ALREADY_EXISTS
    case 7:
      return 403;  // PERMISSION_DENIED
    case 8:
      return 429;  // RESOURCE_EXHAUSTED
    case 9:
      return 400;  // FAILED_PRECONDITION
    case 10:
      return 409;  // ABORTED
    case 11:
      return 400;  // OUT_OF_RANGE
    case 12:
      return 501;  // UNIMPLEMENTED
    case 13:
      return 500;  // INTERNAL
    case 14:
      return 503;  // UNAVAILABLE
    case 15:
      return 500;  // DATA_LOSS
    case 16:
      return 401;  // UNAUTHENTICATED
    default:
      return 500;
  }
}

std::pair<int, std::string> Transcoder::ErrorJson(
    int grpc_code, absl::string_view message,
    absl::string_view status_details) const {
  int http = HttpStatusOf(grpc_code);
  std::string out =
      absl::StrCat("{\"error\":{\"code\":", http, ",\"message\":");
  AppendJsonString(&out, message);
  absl::StrAppend(&out, ",\"status\":\"", common::GrpcCodeName(grpc_code),
                  "\",\"details\":[");
  google::rpc::Status status;
  if (!status_details.empty() &&
      status_details.size() <= static_cast<size_t>(INT32_MAX) &&
      status.ParseFromArray(status_details.data(),
                            static_cast<int>(status_details.size()))) {
    bool first = true;
    for (const auto& any : status.details()) {
      if (!first) out.push_back(',');
      first = false;
      // The detail as an Any message of the pool, printed by JsonWriter.
      const pb::Descriptor* any_type =
          api_->pool().FindMessageTypeByName("google.protobuf.Any");
      size_t mark = out.size();
      bool ok = false;
      if (any_type != nullptr) {
        std::unique_ptr<pb::Message> m(
            api_->factory()->GetPrototype(any_type)->New());
        const pb::Reflection* r = m->GetReflection();
        r->SetString(m.get(), any_type->FindFieldByName("type_url"),
                     any.type_url());
        r->SetString(m.get(), any_type->FindFieldByName("value"), any.value());
        ok = JsonWriter(api_, &out).Write(*m, 0);
      }
      if (!ok || out.size() == mark || out.compare(mark, 2, "{}") == 0) {
        out.resize(mark);
        out.append("{\"@type\":");
        AppendJsonString(&out, any.type_url());
        out.push_back('}');
      }
    }
  }
  out.append("]}}");
  return {http, std::move(out)};
}

}  // namespace cstopa::gateway::http
