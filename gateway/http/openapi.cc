#include "gateway/http/openapi.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gateway/http/json_text.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/unknown_field_set.h"

namespace cstopa::gateway::http {
namespace {

namespace pb = google::protobuf;

constexpr absl::string_view kSchemaRef = "#/components/schemas/";
constexpr absl::string_view kErrorSchema = "ErrorResponse";

// google.api.field_behavior (FieldOptions) and google.api.resource /
// resource_definition (MessageOptions / FileOptions), read from the options'
// wire form so that it works whether or not the generated extensions are
// linked in.
constexpr int kFieldBehaviorExtension = 1052;
constexpr int kResourceExtension = 1053;
constexpr int kResourcePatternField = 2;
constexpr uint64_t kBehaviorRequired = 2;
constexpr uint64_t kBehaviorOutputOnly = 3;
constexpr uint64_t kBehaviorInputOnly = 4;
constexpr uint64_t kBehaviorImmutable = 5;

// ---------------------------------------------------------------------------
// A JSON value whose objects keep their members' order.
class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Json() = default;
  static Json Object() { return Json(Kind::kObject, ""); }
  static Json Array() { return Json(Kind::kArray, ""); }
  static Json Str(absl::string_view s) { return Json(Kind::kString, s); }
  static Json Int(int64_t n) { return Json(Kind::kNumber, absl::StrCat(n)); }
  static Json Bool(bool b) { return Json(Kind::kBool, b ? "true" : "false"); }

  // The member `key` (made an object member, null, if absent).
  Json& operator[](absl::string_view key) {
    kind_ = Kind::kObject;
    for (auto& [name, value] : members_) {
      if (name == key) return value;
    }
    members_.emplace_back(std::string(key), Json());
    return members_.back().second;
  }
  bool Has(absl::string_view key) const {
    for (const auto& member : members_) {
      if (member.first == key) return true;
    }
    return false;
  }
  void Push(Json value) {
    kind_ = Kind::kArray;
    items_.push_back(std::move(value));
  }
  bool empty() const { return items_.empty() && members_.empty(); }

  void Write(std::string* out, int depth) const {
    switch (kind_) {
      case Kind::kNull:
        out->append("null");
        return;
      case Kind::kBool:
      case Kind::kNumber:
        out->append(scalar_);
        return;
      case Kind::kString:
        AppendJsonString(out, scalar_);
        return;
      case Kind::kArray:
        if (items_.empty()) {
          out->append("[]");
          return;
        }
        out->append("[");
        for (size_t i = 0; i < items_.size(); ++i) {
          out->append(i == 0 ? "\n" : ",\n");
          Indent(depth + 1, out);
          items_[i].Write(out, depth + 1);
        }
        out->append("\n");
        Indent(depth, out);
        out->append("]");
        return;
      case Kind::kObject:
        if (members_.empty()) {
          out->append("{}");
          return;
        }
        out->append("{");
        for (size_t i = 0; i < members_.size(); ++i) {
          out->append(i == 0 ? "\n" : ",\n");
          Indent(depth + 1, out);
          AppendJsonString(out, members_[i].first);
          out->append(": ");
          members_[i].second.Write(out, depth + 1);
        }
        out->append("\n");
        Indent(depth, out);
        out->append("}");
        return;
    }
  }

 private:
  Json(Kind kind, absl::string_view scalar) : kind_(kind), scalar_(scalar) {}

  static void Indent(int depth, std::string* out) {
    out->append(static_cast<size_t>(depth) * 2, ' ');
  }

  Kind kind_ = Kind::kNull;
  std::string scalar_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

Json Type(absl::string_view type, absl::string_view format = "") {
  Json s = Json::Object();
  s["type"] = Json::Str(type);
  if (!format.empty()) s["format"] = Json::Str(format);
  return s;
}

// ---------------------------------------------------------------------------
// Comments.

// protoc's comment text: the space after `//` dropped from each line, blank
// lines at either end dropped, trailing spaces dropped.
std::string CleanComment(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (std::string& line : lines) {
    if (!line.empty() && line[0] == ' ') line.erase(0, 1);
    absl::StripTrailingAsciiWhitespace(&line);
  }
  size_t begin = 0;
  size_t end = lines.size();
  while (begin < end && lines[begin].empty()) ++begin;
  while (end > begin && lines[end - 1].empty()) --end;
  return absl::StrJoin(lines.begin() + static_cast<std::ptrdiff_t>(begin),
                       lines.begin() + static_cast<std::ptrdiff_t>(end), "\n");
}

template <typename D>
std::string Comment(const D* d) {
  pb::SourceLocation location;
  if (d == nullptr || !d->GetSourceLocation(&location)) return "";
  return CleanComment(location.leading_comments.empty()
                          ? location.trailing_comments
                          : location.leading_comments);
}

// The first sentence of a comment's first paragraph, on one line.
std::string Summary(absl::string_view comment) {
  absl::string_view paragraph = comment.substr(0, comment.find("\n\n"));
  std::string line = absl::StrJoin(absl::StrSplit(paragraph, '\n'), " ");
  const size_t stop = line.find(". ");
  if (stop != std::string::npos) line.resize(stop + 1);
  return line;
}

std::string Paragraphs(const std::vector<std::string>& parts) {
  std::vector<absl::string_view> present;
  for (const std::string& part : parts) {
    if (!part.empty()) present.push_back(part);
  }
  return absl::StrJoin(present, "\n\n");
}

// ---------------------------------------------------------------------------
// Options read from their wire form.

// Every field of `options` (known or not) in `fields`.
void WireFields(const pb::Message& options, pb::UnknownFieldSet* fields) {
  if (!fields->ParseFromString(options.SerializeAsString())) fields->Clear();
}

std::set<uint64_t> FieldBehaviors(const pb::FieldDescriptor* field) {
  std::set<uint64_t> behaviors;
  pb::UnknownFieldSet fields;
  WireFields(field->options(), &fields);
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& f = fields.field(i);
    if (f.number() != kFieldBehaviorExtension) continue;
    if (f.type() == pb::UnknownField::TYPE_VARINT) {
      behaviors.insert(f.varint());
    } else if (f.type() == pb::UnknownField::TYPE_LENGTH_DELIMITED) {
      const std::string& packed = f.length_delimited();
      pb::io::CodedInputStream in(
          reinterpret_cast<const uint8_t*>(packed.data()),
          static_cast<int>(packed.size()));
      uint64_t value = 0;
      while (in.ReadVarint64(&value)) behaviors.insert(value);
    }
  }
  return behaviors;
}

// The name patterns of the google.api.resource (or resource_definition)
// values in `options`.
void ResourcePatterns(const pb::Message& options,
                      std::vector<std::string>* patterns) {
  pb::UnknownFieldSet fields;
  WireFields(options, &fields);
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& f = fields.field(i);
    if (f.number() != kResourceExtension ||
        f.type() != pb::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    pb::UnknownFieldSet resource;
    if (!resource.ParseFromString(f.length_delimited())) continue;
    for (int j = 0; j < resource.field_count(); ++j) {
      const pb::UnknownField& r = resource.field(j);
      if (r.number() == kResourcePatternField &&
          r.type() == pb::UnknownField::TYPE_LENGTH_DELIMITED) {
        patterns->push_back(r.length_delimited());
      }
    }
  }
}

void MessagePatterns(const pb::Descriptor* message,
                     std::vector<std::string>* patterns) {
  ResourcePatterns(message->options(), patterns);
  for (int i = 0; i < message->nested_type_count(); ++i) {
    MessagePatterns(message->nested_type(i), patterns);
  }
}

// Collection ID -> the variable that follows it in the resource name
// patterns of the services' files and their imports ("states" -> "state").
std::map<std::string, std::string> CollectionVariables(
    const ApiDescriptors& api) {
  std::vector<const pb::FileDescriptor*> files;
  std::set<const pb::FileDescriptor*> seen;
  for (const pb::ServiceDescriptor* service : api.services()) {
    if (seen.insert(service->file()).second) files.push_back(service->file());
  }
  for (size_t i = 0; i < files.size(); ++i) {
    for (int d = 0; d < files[i]->dependency_count(); ++d) {
      const pb::FileDescriptor* dep = files[i]->dependency(d);
      if (seen.insert(dep).second) files.push_back(dep);
    }
  }
  std::vector<std::string> patterns;
  for (const pb::FileDescriptor* file : files) {
    ResourcePatterns(file->options(), &patterns);
    for (int m = 0; m < file->message_type_count(); ++m) {
      MessagePatterns(file->message_type(m), &patterns);
    }
  }
  std::map<std::string, std::string> variables;
  for (const std::string& pattern : patterns) {
    std::vector<absl::string_view> segments = absl::StrSplit(pattern, '/');
    for (size_t i = 1; i < segments.size(); ++i) {
      absl::string_view s = segments[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}' &&
          !absl::StrContains(segments[i - 1], '{')) {
        variables.emplace(std::string(segments[i - 1]),
                          std::string(s.substr(1, s.size() - 2)));
      }
    }
  }
  return variables;
}

// "actionPlans" -> "action_plan", "treaties" -> "treaty".
std::string Singular(absl::string_view collection) {
  std::string word(collection);
  if (absl::EndsWith(word, "ies") && word.size() > 3) {
    word.resize(word.size() - 3);
    word += "y";
  } else if (absl::EndsWith(word, "sses") || absl::EndsWith(word, "shes") ||
             absl::EndsWith(word, "ches") || absl::EndsWith(word, "xes")) {
    word.resize(word.size() - 2);
  } else if (absl::EndsWith(word, "s") && !absl::EndsWith(word, "ss")) {
    word.resize(word.size() - 1);
  }
  std::string snake;
  for (char c : word) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c))) {
      if (!snake.empty()) snake += '_';
      snake += absl::ascii_tolower(static_cast<unsigned char>(c));
    } else if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_') {
      snake += c;
    } else {
      snake += '_';
    }
  }
  return snake.empty() ? "id" : snake;
}

// ---------------------------------------------------------------------------
// Path templates (`/v1/{name=states/*}:verb`).

struct Segment {
  enum Kind { kLiteral, kWildcard, kWildcards, kVariable };
  Kind kind = kLiteral;
  std::string text;               // kLiteral: the literal
  std::string field;              // kVariable: the field path
  std::vector<Segment> segments;  // kVariable: its pattern ("*" if none)
};

Segment PlainSegment(absl::string_view text) {
  Segment s;
  if (text == "*") {
    s.kind = Segment::kWildcard;
  } else if (text == "**") {
    s.kind = Segment::kWildcards;
  } else {
    s.kind = Segment::kLiteral;
    s.text = std::string(text);
  }
  return s;
}

bool ParseTemplate(absl::string_view text, std::vector<Segment>* segments,
                   std::string* verb) {
  if (text.empty() || text[0] != '/') return false;
  size_t tail = text.rfind('/');
  const size_t brace = text.rfind('}');
  if (brace != absl::string_view::npos && brace > tail) tail = brace;
  const size_t colon = text.find(':', tail);
  if (colon != absl::string_view::npos) {
    *verb = std::string(text.substr(colon + 1));
    text = text.substr(0, colon);
  }
  size_t pos = 1;
  while (pos <= text.size()) {
    if (pos < text.size() && text[pos] == '{') {
      const size_t close = text.find('}', pos);
      if (close == absl::string_view::npos) return false;
      absl::string_view inner = text.substr(pos + 1, close - pos - 1);
      Segment variable;
      variable.kind = Segment::kVariable;
      const size_t eq = inner.find('=');
      variable.field = std::string(inner.substr(0, eq));
      if (eq != absl::string_view::npos) {
        for (absl::string_view part :
             absl::StrSplit(inner.substr(eq + 1), '/')) {
          variable.segments.push_back(PlainSegment(part));
        }
      } else {
        variable.segments.push_back(PlainSegment("*"));
      }
      segments->push_back(std::move(variable));
      pos = close + 1;
    } else {
      size_t slash = text.find('/', pos);
      if (slash == absl::string_view::npos) slash = text.size();
      segments->push_back(PlainSegment(text.substr(pos, slash - pos)));
      pos = slash;
    }
    if (pos >= text.size()) break;
    if (text[pos] != '/') return false;
    ++pos;
  }
  return true;
}

// The field at a dotted path of proto names, or null.
const pb::FieldDescriptor* FieldAt(const pb::Descriptor* message,
                                   absl::string_view path) {
  const pb::FieldDescriptor* field = nullptr;
  for (absl::string_view name : absl::StrSplit(path, '.')) {
    if (message == nullptr) return nullptr;
    field = message->FindFieldByName(std::string(name));
    if (field == nullptr) return nullptr;
    message = field->message_type();
  }
  return field;
}

bool IsScalarMessage(absl::string_view full_name) {
  static const std::set<absl::string_view>* const kScalars =
      new std::set<absl::string_view>{"google.protobuf.Timestamp",
                                      "google.protobuf.Duration",
                                      "google.protobuf.FieldMask",
                                      "google.protobuf.DoubleValue",
                                      "google.protobuf.FloatValue",
                                      "google.protobuf.Int64Value",
                                      "google.protobuf.UInt64Value",
                                      "google.protobuf.Int32Value",
                                      "google.protobuf.UInt32Value",
                                      "google.protobuf.BoolValue",
                                      "google.protobuf.StringValue",
                                      "google.protobuf.BytesValue",
                                      "google.type.Date"};
  return kScalars->count(full_name) > 0;
}

// ---------------------------------------------------------------------------
// The document.

class Generator {
 public:
  Generator(const ApiDescriptors& api, const RouteTable& routes,
            const OpenApiInfo& info)
      : api_(api),
        routes_(routes),
        info_(info),
        collection_variables_(CollectionVariables(api)) {}

  std::string Document() {
    Json doc = Json::Object();
    doc["openapi"] = Json::Str("3.0.3");
    Json& info = doc["info"];
    info["title"] = Json::Str(info_.title);
    if (!info_.description.empty()) {
      info["description"] = Json::Str(info_.description);
    }
    info["version"] = Json::Str(info_.version);
    if (!info_.server_url.empty()) {
      Json server = Json::Object();
      server["url"] = Json::Str(info_.server_url);
      doc["servers"].Push(std::move(server));
    }

    Json paths = Json::Object();
    std::set<const pb::ServiceDescriptor*> used_services;
    std::map<const pb::MethodDescriptor*, int> bindings;
    for (const Route& route : routes_.routes()) {
      if (route.method == nullptr) continue;
      const std::string verb = absl::AsciiStrToLower(route.http_method);
      static const std::set<std::string>* const kVerbs =
          new std::set<std::string>{"get",   "put",     "post", "delete",
                                    "patch", "options", "head", "trace"};
      if (kVerbs->count(verb) == 0) continue;
      std::string path;
      Json parameters = Json::Array();
      std::set<std::string> path_fields(route.path_fields.begin(),
                                        route.path_fields.end());
      if (!PathOf(route, &path, &parameters, &path_fields)) continue;
      Json& item = paths[path];
      if (item.Has(verb)) continue;  // two bindings of one path and verb
      const int n = ++bindings[route.method];
      const pb::ServiceDescriptor* service = route.method->service();
      used_services.insert(service);
      std::string operation_id =
          absl::StrCat(service->name(), "_", route.method->name());
      if (n > 1) absl::StrAppend(&operation_id, "_", n);
      item[verb] =
          Operation(route, operation_id, path_fields, std::move(parameters));
    }
    // Input types are part of the API too, even where the routes take
    // their fields from the path and the query.
    for (const Route& route : routes_.routes()) {
      if (route.method != nullptr) MessageRef(route.method->input_type());
    }

    for (const pb::ServiceDescriptor* service : api_.services()) {
      if (used_services.count(service) == 0) continue;
      Json tag = Json::Object();
      tag["name"] = Json::Str(service->name());
      const std::string comment = Comment(service);
      if (!comment.empty()) tag["description"] = Json::Str(comment);
      doc["tags"].Push(std::move(tag));
    }
    doc["paths"] = std::move(paths);

    DrainSchemas();
    Json schemas = Json::Object();
    schemas[kErrorSchema] = ErrorSchema();
    for (auto& [name, schema] : schemas_) schemas[name] = std::move(schema);
    doc["components"]["schemas"] = std::move(schemas);

    std::string out;
    doc.Write(&out, 0);
    out += "\n";
    return out;
  }

 private:
  // The OpenAPI path of a route, its path parameters, and the fields it
  // binds added to `path_fields`. False for a template it cannot read.
  bool PathOf(const Route& route, std::string* path, Json* parameters,
              std::set<std::string>* path_fields) {
    std::vector<Segment> segments;
    std::string verb;
    if (!ParseTemplate(route.path_template, &segments, &verb)) return false;
    std::set<std::string> names;
    const auto unique = [&names](std::string name) {
      std::string candidate = name;
      for (int i = 2; !names.insert(candidate).second; ++i) {
        candidate = absl::StrCat(name, "_", i);
      }
      return candidate;
    };
    const pb::Descriptor* input = route.method->input_type();
    for (const Segment& segment : segments) {
      if (segment.kind == Segment::kLiteral) {
        absl::StrAppend(path, "/", segment.text);
        continue;
      }
      if (segment.kind != Segment::kVariable) {
        // An unnamed wildcard: matched, bound to nothing.
        const std::string name = unique("segment");
        absl::StrAppend(path, "/{", name, "}");
        parameters->Push(
            PathParameter(name, "Any segment; not read.", Type("string")));
        continue;
      }
      path_fields->insert(segment.field);
      const pb::FieldDescriptor* field = FieldAt(input, segment.field);
      const std::string field_comment = Comment(field);
      // The variable's own pattern, with the parameters' names.
      std::vector<std::string> pattern;
      std::vector<std::pair<std::string, bool>> variable_params;
      std::string previous;  // the literal before a wildcard
      for (const Segment& part : segment.segments) {
        if (part.kind == Segment::kLiteral) {
          absl::StrAppend(path, "/", part.text);
          pattern.push_back(part.text);
          previous = part.text;
          continue;
        }
        std::string base;
        if (!previous.empty()) {
          auto it = collection_variables_.find(previous);
          base = it != collection_variables_.end() ? it->second
                                                   : Singular(previous);
        } else {
          base = segment.field;
        }
        const std::string name = unique(base);
        absl::StrAppend(path, "/{", name, "}");
        pattern.push_back(absl::StrCat("{", name, "}"));
        variable_params.emplace_back(name, part.kind == Segment::kWildcards);
        previous.clear();
      }
      const bool whole_field = segment.segments.size() == 1 &&
                               segment.segments[0].kind != Segment::kLiteral;
      for (const auto& [name, multi] : variable_params) {
        Json schema = Type("string");
        if (whole_field && field != nullptr && !field->is_repeated() &&
            field->message_type() == nullptr &&
            field->type() != pb::FieldDescriptor::TYPE_STRING) {
          schema = FieldTypeSchema(field);
        }
        std::string how;
        if (!whole_field) {
          how = absl::StrCat("The `", name, "` of `", segment.field, "`, `",
                             absl::StrJoin(pattern, "/"), "`.");
        }
        if (multi) {
          absl::StrAppend(&how, how.empty() ? "" : " ",
                          "One or more segments.");
        }
        Json p = PathParameter(name, Paragraphs({how, field_comment}),
                               std::move(schema));
        parameters->Push(std::move(p));
      }
    }
    if (path->empty()) *path = "/";
    if (!verb.empty()) absl::StrAppend(path, ":", verb);
    return true;
  }

  static Json PathParameter(absl::string_view name,
                            absl::string_view description, Json schema) {
    Json p = Json::Object();
    p["name"] = Json::Str(name);
    p["in"] = Json::Str("path");
    p["required"] = Json::Bool(true);
    if (!description.empty()) p["description"] = Json::Str(description);
    p["schema"] = std::move(schema);
    return p;
  }

  Json Operation(const Route& route, const std::string& operation_id,
                 const std::set<std::string>& path_fields, Json parameters) {
    const pb::MethodDescriptor* method = route.method;
    Json op = Json::Object();
    op["tags"].Push(Json::Str(method->service()->name()));
    const std::string comment = Comment(method);
    op["summary"] =
        Json::Str(comment.empty() ? method->name() : Summary(comment));
    if (!comment.empty()) op["description"] = Json::Str(comment);
    op["operationId"] = Json::Str(operation_id);

    const pb::Descriptor* input = method->input_type();
    if (route.body != "*") {
      std::set<std::string> excluded = path_fields;
      if (!route.body.empty()) excluded.insert(route.body);
      std::vector<const pb::Descriptor*> stack = {input};
      QueryParameters(input, "", "", excluded, &stack, &parameters);
    }
    if (!parameters.empty()) op["parameters"] = std::move(parameters);

    if (!route.body.empty()) {
      Json body = Json::Object();
      Json schema;
      if (route.body == "*") {
        std::set<std::string> top_level;
        for (const std::string& f : path_fields) {
          if (!absl::StrContains(f, '.')) top_level.insert(f);
        }
        if (top_level.empty()) {
          schema = MessageRef(input);
        } else {
          schema = MessageSchema(input, top_level);
        }
      } else {
        const pb::FieldDescriptor* field = input->FindFieldByName(route.body);
        if (field != nullptr) {
          schema = FieldSchema(field, /*decorate=*/false);
          const std::string description = Comment(field);
          if (!description.empty())
            body["description"] = Json::Str(description);
          if (FieldBehaviors(field).count(kBehaviorRequired) > 0) {
            body["required"] = Json::Bool(true);
          }
        } else {
          schema = Type("object");
        }
      }
      body["content"]["application/json"]["schema"] = std::move(schema);
      op["requestBody"] = std::move(body);
    }

    const pb::Descriptor* output = method->output_type();
    Json& ok = op["responses"]["200"];
    if (route.server_streaming) {
      ok["description"] = Json::Str(absl::StrCat(
          "A stream of server-sent events; the `data` of each is one JSON `",
          output->full_name(), "` message."));
      Json& media = ok["content"]["text/event-stream"];
      media["schema"] = Type("string");
      media["schema"]["description"] = Json::Str(
          absl::StrCat("`text/event-stream`: events whose `data` is one JSON `",
                       output->full_name(), "`, as `x-event-data` describes."));
      media["x-event-data"] = MessageRef(output);
    } else {
      ok["description"] =
          Json::Str(absl::StrCat("The answer, a `", output->full_name(), "`."));
      ok["content"]["application/json"]["schema"] = MessageRef(output);
    }
    Json& error = op["responses"]["default"];
    error["description"] = Json::Str(
        "An error (AIP-193): the HTTP status maps the gRPC code; the body "
        "names the code, the message and the details.");
    Json ref = Json::Object();
    ref["$ref"] = Json::Str(absl::StrCat(kSchemaRef, kErrorSchema));
    error["content"]["application/json"]["schema"] = std::move(ref);
    return op;
  }

  // The query parameters of `message`'s fields (flattened with dots) that
  // are not in `excluded` (proto name paths).
  void QueryParameters(const pb::Descriptor* message,
                       const std::string& json_prefix,
                       const std::string& proto_prefix,
                       const std::set<std::string>& excluded,
                       std::vector<const pb::Descriptor*>* stack,
                       Json* parameters) {
    for (int i = 0; i < message->field_count(); ++i) {
      const pb::FieldDescriptor* field = message->field(i);
      const std::string proto_path = proto_prefix + field->name();
      const std::string json_path = json_prefix + field->json_name();
      if (excluded.count(proto_path) > 0 || field->is_map()) continue;
      const pb::Descriptor* type = field->message_type();
      Json schema;
      if (type == nullptr || IsScalarMessage(type->full_name())) {
        schema = type != nullptr && type->full_name() == "google.type.Date"
                     ? Type("string", "date")
                     : FieldTypeSchema(field);
        if (field->is_repeated()) {
          Json array = Type("array");
          array["items"] = std::move(schema);
          schema = std::move(array);
        }
      } else {
        if (field->is_repeated() ||
            absl::StartsWith(type->full_name(), "google.protobuf.")) {
          continue;  // not expressible in a query
        }
        bool cycle = false;
        for (const pb::Descriptor* d : *stack) cycle = cycle || d == type;
        if (cycle || stack->size() > 4) continue;
        stack->push_back(type);
        QueryParameters(type, json_path + ".", proto_path + ".", excluded,
                        stack, parameters);
        stack->pop_back();
        continue;
      }
      Json p = Json::Object();
      p["name"] = Json::Str(json_path);
      p["in"] = Json::Str("query");
      std::string description = Comment(field);
      if (type != nullptr && type->full_name() == "google.type.Date") {
        description = Paragraphs({description, "As `YYYY-MM-DD`."});
      }
      if (!description.empty()) p["description"] = Json::Str(description);
      if (proto_prefix.empty() &&
          FieldBehaviors(field).count(kBehaviorRequired) > 0) {
        p["required"] = Json::Bool(true);
      }
      p["schema"] = std::move(schema);
      parameters->Push(std::move(p));
    }
  }

  // ---- Schemas ----

  // A message type's schema: a well-known type's JSON form inline, else a
  // $ref to its component (made later).
  Json MessageRef(const pb::Descriptor* message) {
    const std::string& name = message->full_name();
    if (absl::StartsWith(name, "google.protobuf.")) {
      const absl::string_view wkt = absl::string_view(name).substr(16);
      if (wkt == "Timestamp") return Type("string", "date-time");
      if (wkt == "Duration") {
        Json s = Type("string");
        s["description"] = Json::Str("Seconds with an `s` suffix, `3.5s`.");
        return s;
      }
      if (wkt == "FieldMask") {
        Json s = Type("string");
        s["description"] =
            Json::Str("Field paths (lowerCamelCase), separated by commas.");
        return s;
      }
      if (wkt == "Struct") {
        Json s = Type("object");
        s["additionalProperties"] = Json::Bool(true);
        return s;
      }
      if (wkt == "Value") {
        Json s = Json::Object();
        s["description"] = Json::Str("Any JSON value.");
        return s;
      }
      if (wkt == "ListValue") {
        Json s = Type("array");
        s["items"] = Json::Object();
        return s;
      }
      if (wkt == "Any") {
        Json s = Type("object");
        s["properties"]["@type"] = Type("string");
        s["required"].Push(Json::Str("@type"));
        s["additionalProperties"] = Json::Bool(true);
        s["description"] = Json::Str(
            "A message of the type `@type` names "
            "(`type.googleapis.com/<full name>`), with its fields.");
        return s;
      }
      if (wkt == "Empty") return Type("object");
      Json wrapper;
      if (wkt == "DoubleValue") wrapper = Type("number", "double");
      if (wkt == "FloatValue") wrapper = Type("number", "float");
      if (wkt == "Int64Value") wrapper = Type("string", "int64");
      if (wkt == "UInt64Value") wrapper = Type("string", "uint64");
      if (wkt == "Int32Value") wrapper = Type("integer", "int32");
      if (wkt == "UInt32Value") wrapper = Type("integer", "int64");
      if (wkt == "BoolValue") wrapper = Type("boolean");
      if (wkt == "StringValue") wrapper = Type("string");
      if (wkt == "BytesValue") wrapper = Type("string", "byte");
      if (!wrapper.empty()) {
        wrapper["nullable"] = Json::Bool(true);
        return wrapper;
      }
    }
    if (seen_.insert(name).second) pending_messages_.push_back(message);
    Json ref = Json::Object();
    ref["$ref"] = Json::Str(absl::StrCat(kSchemaRef, name));
    return ref;
  }

  Json EnumRef(const pb::EnumDescriptor* e) {
    if (e->full_name() == "google.protobuf.NullValue") {
      Json s = Json::Object();
      s["nullable"] = Json::Bool(true);
      s["description"] = Json::Str("`null`.");
      return s;
    }
    if (seen_.insert(e->full_name()).second) pending_enums_.push_back(e);
    Json ref = Json::Object();
    ref["$ref"] = Json::Str(absl::StrCat(kSchemaRef, e->full_name()));
    return ref;
  }

  // The schema of one value of the field (an element, if repeated).
  Json FieldTypeSchema(const pb::FieldDescriptor* field) {
    switch (field->type()) {
      case pb::FieldDescriptor::TYPE_DOUBLE:
        return Type("number", "double");
      case pb::FieldDescriptor::TYPE_FLOAT:
        return Type("number", "float");
      case pb::FieldDescriptor::TYPE_INT64:
      case pb::FieldDescriptor::TYPE_SINT64:
      case pb::FieldDescriptor::TYPE_SFIXED64:
        return Type("string", "int64");
      case pb::FieldDescriptor::TYPE_UINT64:
      case pb::FieldDescriptor::TYPE_FIXED64:
        return Type("string", "uint64");
      case pb::FieldDescriptor::TYPE_INT32:
      case pb::FieldDescriptor::TYPE_SINT32:
      case pb::FieldDescriptor::TYPE_SFIXED32:
        return Type("integer", "int32");
      case pb::FieldDescriptor::TYPE_UINT32:
      case pb::FieldDescriptor::TYPE_FIXED32: {
        Json s = Type("integer", "int64");
        s["minimum"] = Json::Int(0);
        s["maximum"] = Json::Int(4294967295);
        return s;
      }
      case pb::FieldDescriptor::TYPE_BOOL:
        return Type("boolean");
      case pb::FieldDescriptor::TYPE_STRING:
        return Type("string");
      case pb::FieldDescriptor::TYPE_BYTES:
        return Type("string", "byte");
      case pb::FieldDescriptor::TYPE_ENUM:
        return EnumRef(field->enum_type());
      case pb::FieldDescriptor::TYPE_MESSAGE:
      case pb::FieldDescriptor::TYPE_GROUP:
        return MessageRef(field->message_type());
    }
    return Json::Object();
  }

  // The field's schema (arrays, maps), with its comment, oneof and
  // behaviors when `decorate`.
  Json FieldSchema(const pb::FieldDescriptor* field, bool decorate = true) {
    Json schema;
    if (field->is_map()) {
      schema = Type("object");
      schema["additionalProperties"] =
          FieldTypeSchema(field->message_type()->map_value());
    } else if (field->is_repeated()) {
      schema = Type("array");
      schema["items"] = FieldTypeSchema(field);
    } else {
      schema = FieldTypeSchema(field);
    }
    if (!decorate) return schema;

    std::vector<std::string> notes = {Comment(field)};
    if (field->is_map()) {
      const pb::FieldDescriptor* key = field->message_type()->map_key();
      if (key->type() != pb::FieldDescriptor::TYPE_STRING) {
        notes.push_back(
            absl::StrCat("Keys are `", key->type_name(), "` values."));
      }
    }
    const pb::OneofDescriptor* oneof = field->real_containing_oneof();
    if (oneof != nullptr) {
      std::vector<std::string> members;
      for (int i = 0; i < oneof->field_count(); ++i) {
        members.push_back(absl::StrCat("`", oneof->field(i)->json_name(), "`"));
      }
      notes.push_back(absl::StrCat("At most one of ",
                                   absl::StrJoin(members, ", "),
                                   " is set (oneof `", oneof->name(), "`)."));
    }
    const std::set<uint64_t> behaviors = FieldBehaviors(field);
    if (behaviors.count(kBehaviorImmutable) > 0) {
      notes.push_back("Immutable: set on creation only.");
    }
    const std::string description = Paragraphs(notes);
    const bool read_only = behaviors.count(kBehaviorOutputOnly) > 0;
    const bool write_only =
        !read_only && behaviors.count(kBehaviorInputOnly) > 0;
    if (description.empty() && !read_only && !write_only) return schema;
    if (schema.Has("$ref")) {
      Json wrapped = Json::Object();
      wrapped["allOf"].Push(std::move(schema));
      schema = std::move(wrapped);
    }
    if (!description.empty()) schema["description"] = Json::Str(description);
    if (read_only) schema["readOnly"] = Json::Bool(true);
    if (write_only) schema["writeOnly"] = Json::Bool(true);
    return schema;
  }

  // A message as an object schema, less the fields named in `skip`.
  Json MessageSchema(const pb::Descriptor* message,
                     const std::set<std::string>& skip) {
    Json schema = Type("object");
    const std::string comment = Comment(message);
    if (!comment.empty()) schema["description"] = Json::Str(comment);
    Json properties = Json::Object();
    Json required = Json::Array();
    for (int i = 0; i < message->field_count(); ++i) {
      const pb::FieldDescriptor* field = message->field(i);
      if (skip.count(field->name()) > 0) continue;
      properties[field->json_name()] = FieldSchema(field);
      if (FieldBehaviors(field).count(kBehaviorRequired) > 0) {
        required.Push(Json::Str(field->json_name()));
      }
    }
    if (!properties.empty()) schema["properties"] = std::move(properties);
    if (!required.empty()) schema["required"] = std::move(required);
    return schema;
  }

  Json EnumSchema(const pb::EnumDescriptor* e) {
    Json schema = Type("string");
    std::vector<std::string> values;
    bool commented = false;
    for (int i = 0; i < e->value_count(); ++i) {
      const pb::EnumValueDescriptor* value = e->value(i);
      schema["enum"].Push(Json::Str(value->name()));
      const std::string comment = Comment(value);
      commented = commented || !comment.empty();
      values.push_back(
          absl::StrCat("- `", value->name(), "`", comment.empty() ? "" : ": ",
                       absl::StrReplaceAll(comment, {{"\n", " "}})));
    }
    const std::string description =
        Paragraphs({Comment(e), commented ? absl::StrJoin(values, "\n") : ""});
    if (!description.empty()) schema["description"] = Json::Str(description);
    return schema;
  }

  void DrainSchemas() {
    while (!pending_messages_.empty() || !pending_enums_.empty()) {
      if (!pending_messages_.empty()) {
        const pb::Descriptor* message = pending_messages_.front();
        pending_messages_.pop_front();
        schemas_[message->full_name()] = MessageSchema(message, {});
      } else {
        const pb::EnumDescriptor* e = pending_enums_.front();
        pending_enums_.pop_front();
        schemas_[e->full_name()] = EnumSchema(e);
      }
    }
  }

  // {"error": {"code", "message", "status", "details"}} (AIP-193).
  static Json ErrorSchema() {
    Json schema = Type("object");
    schema["description"] = Json::Str(
        "An error (AIP-193): google.rpc.Status in JSON under `error`.");
    Json& error = schema["properties"]["error"];
    error = Type("object");
    Json& properties = error["properties"];
    properties["code"] = Type("integer", "int32");
    properties["code"]["description"] =
        Json::Str("The HTTP status code, e.g. 404.");
    properties["message"] = Type("string");
    properties["message"]["description"] =
        Json::Str("For the developer, in English.");
    properties["status"] = Type("string");
    properties["status"]["description"] =
        Json::Str("The gRPC code's name, e.g. `NOT_FOUND`.");
    Json& details = properties["details"];
    details = Type("array");
    details["description"] = Json::Str(
        "The google.rpc error details (ErrorInfo, BadRequest, ...), each with "
        "its `@type`.");
    details["items"] = Type("object");
    details["items"]["properties"]["@type"] = Type("string");
    details["items"]["additionalProperties"] = Json::Bool(true);
    error["required"].Push(Json::Str("code"));
    error["required"].Push(Json::Str("message"));
    error["required"].Push(Json::Str("status"));
    schema["required"].Push(Json::Str("error"));
    return schema;
  }

  const ApiDescriptors& api_;
  const RouteTable& routes_;
  const OpenApiInfo& info_;
  const std::map<std::string, std::string> collection_variables_;
  std::set<std::string> seen_;  // full names of queued messages and enums
  std::deque<const pb::Descriptor*> pending_messages_;
  std::deque<const pb::EnumDescriptor*> pending_enums_;
  std::map<std::string, Json> schemas_;
};

}  // namespace

std::string OpenApiDocument(const ApiDescriptors& api, const RouteTable& routes,
                            const OpenApiInfo& info) {
  return Generator(api, routes, info).Document();
}

}  // namespace cstopa::gateway::http
