#include "gateway/http/openapi.h"

#include <cctype>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace cstopa::gateway::http {
namespace {

namespace pb = google::protobuf;
using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kRefPrefix = "#/components/schemas/";

// A member of a JSON object, or a null value when absent.
const pb::Value& At(const pb::Value& v, absl::string_view key) {
  static const pb::Value* const kNull = [] {
    auto* n = new pb::Value;
    n->set_null_value(pb::NULL_VALUE);
    return n;
  }();
  if (!v.has_struct_value()) return *kNull;
  auto it = v.struct_value().fields().find(std::string(key));
  return it == v.struct_value().fields().end() ? *kNull : it->second;
}

const pb::Value& At(const pb::Value& v,
                    std::initializer_list<absl::string_view> keys) {
  const pb::Value* cur = &v;
  for (absl::string_view key : keys) cur = &At(*cur, key);
  return *cur;
}

std::vector<std::string> Strings(const pb::Value& v) {
  std::vector<std::string> out;
  for (const pb::Value& item : v.list_value().values()) {
    out.push_back(item.string_value());
  }
  return out;
}

// The parameter of an operation with a name and location, or null.
const pb::Value* Parameter(const pb::Value& operation, absl::string_view name,
                           absl::string_view in) {
  for (const pb::Value& p : At(operation, "parameters").list_value().values()) {
    if (At(p, "name").string_value() == name &&
        At(p, "in").string_value() == in) {
      return &p;
    }
  }
  return nullptr;
}

void CollectRefs(const pb::Value& v, std::vector<std::string>* refs) {
  if (v.has_struct_value()) {
    for (const auto& [key, value] : v.struct_value().fields()) {
      if (key == "$ref") refs->push_back(value.string_value());
      CollectRefs(value, refs);
    }
  } else if (v.has_list_value()) {
    for (const pb::Value& item : v.list_value().values()) {
      CollectRefs(item, refs);
    }
  }
}

std::string LeadingComment(const pb::Descriptor* d) {
  pb::SourceLocation loc;
  if (!d->GetSourceLocation(&loc)) return "";
  std::string text = loc.leading_comments;
  // The first line, as written after `// `.
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

class OpenApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto api = ApiDescriptors::Load();
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = api->release();
    auto routes = RouteTable::Build(*api_);
    ASSERT_TRUE(routes.ok()) << routes.status();
    routes_ = new RouteTable(*std::move(routes));
    OpenApiInfo info;
    info.description = "The \"cstopa\" API.";
    info.server_url = "https://api.example.org";
    text_ = new std::string(OpenApiDocument(*api_, *routes_, info));
    doc_ = new pb::Value;
    const auto status = pb::util::JsonStringToMessage(*text_, doc_);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  // The operation with an operationId, and its path and verb, or null.
  static const pb::Value* Operation(absl::string_view id,
                                    std::string* path = nullptr,
                                    std::string* verb = nullptr) {
    for (const auto& [p, item] : At(*doc_, "paths").struct_value().fields()) {
      for (const auto& [v, op] : item.struct_value().fields()) {
        if (At(op, "operationId").string_value() == id) {
          if (path != nullptr) *path = p;
          if (verb != nullptr) *verb = v;
          return &op;
        }
      }
    }
    return nullptr;
  }

  static const pb::Value& Schema(absl::string_view name) {
    return At(*doc_, {"components", "schemas", name});
  }

  static ApiDescriptors* api_;
  static RouteTable* routes_;
  static std::string* text_;
  static pb::Value* doc_;
};

ApiDescriptors* OpenApiTest::api_ = nullptr;
RouteTable* OpenApiTest::routes_ = nullptr;
std::string* OpenApiTest::text_ = nullptr;
pb::Value* OpenApiTest::doc_ = nullptr;

TEST_F(OpenApiTest, IsAnOpenApi303DocumentWithInfoAndServers) {
  EXPECT_EQ(At(*doc_, "openapi").string_value(), "3.0.3");
  EXPECT_EQ(At(*doc_, {"info", "title"}).string_value(), "cstopa API");
  EXPECT_EQ(At(*doc_, {"info", "version"}).string_value(), "v1");
  EXPECT_EQ(At(*doc_, {"info", "description"}).string_value(),
            "The \"cstopa\" API.");
  ASSERT_EQ(At(*doc_, "servers").list_value().values_size(), 1);
  EXPECT_EQ(
      At(At(*doc_, "servers").list_value().values(0), "url").string_value(),
      "https://api.example.org");

  const std::string bare = OpenApiDocument(*api_, *routes_, OpenApiInfo());
  pb::Value doc;
  ASSERT_TRUE(pb::util::JsonStringToMessage(bare, &doc).ok());
  EXPECT_FALSE(At(doc, "servers").has_list_value());
  EXPECT_FALSE(At(doc, {"info", "description"}).has_string_value());
}

TEST_F(OpenApiTest, IsDeterministic) {
  OpenApiInfo info;
  info.description = "The \"cstopa\" API.";
  info.server_url = "https://api.example.org";
  EXPECT_EQ(OpenApiDocument(*api_, *routes_, info), *text_);
}

TEST_F(OpenApiTest, EveryRouteHasOneOperationWithAUniqueId) {
  std::set<std::string> ids;
  int operations = 0;
  for (const auto& [path, item] : At(*doc_, "paths").struct_value().fields()) {
    for (const auto& [verb, op] : item.struct_value().fields()) {
      ++operations;
      const std::string id = At(op, "operationId").string_value();
      EXPECT_TRUE(ids.insert(id).second) << "duplicate operationId " << id;
      EXPECT_EQ(Strings(At(op, "tags")).size(), 1u) << id;
      EXPECT_TRUE(At(op, {"responses", "200"}).has_struct_value()) << id;
      EXPECT_EQ(At(op, {"responses", "default", "content", "application/json",
                        "schema", "$ref"})
                    .string_value(),
                "#/components/schemas/ErrorResponse")
          << id;
    }
  }
  EXPECT_EQ(operations, static_cast<int>(routes_->routes().size()));
  for (const Route& route : routes_->routes()) {
    const std::string id = absl::StrCat(route.method->service()->name(), "_",
                                        route.method->name());
    EXPECT_TRUE(ids.count(id)) << id;
  }
}

TEST_F(OpenApiTest, PathParametersAreDeclaredRequiredAndUnique) {
  for (const auto& [path, item] : At(*doc_, "paths").struct_value().fields()) {
    std::set<std::string> in_path;
    for (size_t open = path.find('{'); open != std::string::npos;
         open = path.find('{', open + 1)) {
      const std::string name =
          path.substr(open + 1, path.find('}', open) - open - 1);
      EXPECT_TRUE(in_path.insert(name).second) << path;
      EXPECT_THAT(name, Not(HasSubstr("="))) << path;
    }
    for (const auto& [verb, op] : item.struct_value().fields()) {
      std::set<std::string> declared;
      for (const pb::Value& p : At(op, "parameters").list_value().values()) {
        if (At(p, "in").string_value() != "path") continue;
        declared.insert(At(p, "name").string_value());
        EXPECT_TRUE(At(p, "required").bool_value()) << path;
      }
      EXPECT_EQ(declared, in_path) << verb << " " << path;
    }
  }
}

TEST_F(OpenApiTest, GetStateExpandsTheNameAndTakesTheDateInTheQuery) {
  std::string path, verb;
  const pb::Value* op = Operation("MembershipService_GetState", &path, &verb);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(path, "/v1/states/{state}");
  EXPECT_EQ(verb, "get");
  EXPECT_THAT(Strings(At(*op, "tags")),
              ElementsAreArray({"MembershipService"}));
  EXPECT_THAT(At(*op, "summary").string_value(),
              HasSubstr("Returns one state"));
  const pb::Value* state = Parameter(*op, "state", "path");
  ASSERT_NE(state, nullptr);
  EXPECT_THAT(At(*state, "description").string_value(),
              HasSubstr("`states/{state}`"));
  const pb::Value* as_of = Parameter(*op, "asOf", "query");
  ASSERT_NE(as_of, nullptr);
  EXPECT_EQ(At(*as_of, {"schema", "format"}).string_value(), "date");
  EXPECT_EQ(Parameter(*op, "name", "query"), nullptr);
  EXPECT_EQ(At(*op, {"responses", "200", "content", "application/json",
                     "schema", "$ref"})
                .string_value(),
            "#/components/schemas/cstopa.membership.v1.State");
}

TEST_F(OpenApiTest, GatewayViewHasItsPathParameter) {
  std::string path, verb;
  const pb::Value* op =
      Operation("GatewayService_GetStateProfile", &path, &verb);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(path, "/v1/states/{state}/profile");
  EXPECT_EQ(verb, "get");
  EXPECT_THAT(Strings(At(*op, "tags")), ElementsAreArray({"GatewayService"}));
  EXPECT_NE(Parameter(*op, "state", "path"), nullptr);

  // A variable without a wildcard is a plain path.
  ASSERT_NE(Operation("GatewayService_GetAssemblyDashboard", &path), nullptr);
  EXPECT_EQ(path, "/v1/dashboard");
}

TEST_F(OpenApiTest, ListDelegationsTakesPagingInTheQuery) {
  std::string path;
  const pb::Value* op = Operation("MembershipService_ListDelegations", &path);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(path, "/v1/parliaments/{parliament}/delegations");
  EXPECT_NE(Parameter(*op, "parliament", "path"), nullptr);
  const pb::Value* page_size = Parameter(*op, "pageSize", "query");
  ASSERT_NE(page_size, nullptr);
  EXPECT_EQ(At(*page_size, {"schema", "type"}).string_value(), "integer");
  EXPECT_THAT(At(*page_size, "description").string_value(),
              HasSubstr("Maximum number of results"));
  EXPECT_NE(Parameter(*op, "pageToken", "query"), nullptr);
  EXPECT_EQ(Parameter(*op, "parent", "query"), nullptr);
  EXPECT_FALSE(At(*op, "requestBody").has_struct_value());
}

TEST_F(OpenApiTest, BodiesFollowTheBinding) {
  // body: "state" -> the State schema; the update mask in the query.
  std::string path, verb;
  const pb::Value* update =
      Operation("MembershipService_UpdateState", &path, &verb);
  ASSERT_NE(update, nullptr);
  EXPECT_EQ(path, "/v1/states/{state}");
  EXPECT_EQ(verb, "patch");
  EXPECT_EQ(At(*update,
               {"requestBody", "content", "application/json", "schema", "$ref"})
                .string_value(),
            "#/components/schemas/cstopa.membership.v1.State");
  EXPECT_NE(Parameter(*update, "updateMask", "query"), nullptr);
  EXPECT_EQ(Parameter(*update, "state.name", "query"), nullptr);

  // body: "*" -> the request's fields less the path's.
  const pb::Value* undelete =
      Operation("MembershipService_UndeleteState", &path, &verb);
  ASSERT_NE(undelete, nullptr);
  EXPECT_EQ(path, "/v1/states/{state}:undelete");
  EXPECT_EQ(verb, "post");
  const pb::Value& body =
      At(*undelete, {"requestBody", "content", "application/json", "schema"});
  EXPECT_TRUE(At(body, {"properties", "etag"}).has_struct_value());
  EXPECT_FALSE(At(body, {"properties", "name"}).has_struct_value());
  EXPECT_EQ(At(*undelete, "parameters").list_value().values_size(), 1);
}

TEST_F(OpenApiTest, ServerStreamingAnswersWithEventStream) {
  bool found = false;
  for (const Route& route : routes_->routes()) {
    if (!route.server_streaming) continue;
    found = true;
    const std::string id = absl::StrCat(route.method->service()->name(), "_",
                                        route.method->name());
    const pb::Value* op = Operation(id);
    ASSERT_NE(op, nullptr) << id;
    const pb::Value& content = At(*op, {"responses", "200", "content"});
    EXPECT_FALSE(At(content, "application/json").has_struct_value()) << id;
    EXPECT_EQ(
        At(content, {"text/event-stream", "x-event-data", "$ref"})
            .string_value(),
        absl::StrCat(kRefPrefix, route.method->output_type()->full_name()))
        << id;
  }
  EXPECT_TRUE(found) << "no server-streaming route";
}

TEST_F(OpenApiTest, StateSchemaHasCommentsTypesAndBehaviors) {
  const pb::Descriptor* state =
      api_->pool().FindMessageTypeByName("cstopa.membership.v1.State");
  ASSERT_NE(state, nullptr);
  const pb::Value& schema = Schema("cstopa.membership.v1.State");
  ASSERT_TRUE(schema.has_struct_value());
  EXPECT_EQ(At(schema, "type").string_value(), "object");
  const std::string comment = LeadingComment(state);
  ASSERT_FALSE(comment.empty());
  EXPECT_THAT(At(schema, "description").string_value(), HasSubstr(comment));

  // JSON names, protobuf's JSON mapping, field comments.
  const pb::Value& props = At(schema, "properties");
  EXPECT_EQ(At(props, {"regionCode", "type"}).string_value(), "string");
  EXPECT_THAT(At(props, {"regionCode", "description"}).string_value(),
              HasSubstr("ISO 3166-1"));
  EXPECT_FALSE(At(props, "region_code").has_struct_value());
  EXPECT_EQ(At(props, {"createTime", "format"}).string_value(), "date-time");
  EXPECT_EQ(At(props, {"displayName", "type"}).string_value(), "array");
  EXPECT_EQ(At(props, {"displayName", "items", "$ref"}).string_value(),
            "#/components/schemas/cstopa.type.v1.LocalizedText");
  // google.api.field_behavior.
  EXPECT_THAT(Strings(At(schema, "required")), Contains("displayName"));
  EXPECT_TRUE(At(props, {"createTime", "readOnly"}).bool_value());
  EXPECT_FALSE(At(props, {"regionCode", "readOnly"}).bool_value());
}

TEST_F(OpenApiTest, EnumsListTheirValues) {
  const pb::FieldDescriptor* field =
      api_->pool()
          .FindMessageTypeByName("cstopa.membership.v1.State")
          ->FindFieldByName("current_status");
  ASSERT_NE(field, nullptr);
  ASSERT_NE(field->enum_type(), nullptr);
  const pb::Value& current = Schema("cstopa.membership.v1.State");
  const pb::Value& prop = At(current, {"properties", "currentStatus"});
  // A $ref with siblings is wrapped in allOf.
  const pb::Value& all_of = At(prop, "allOf");
  ASSERT_EQ(all_of.list_value().values_size(), 1);
  EXPECT_EQ(At(all_of.list_value().values(0), "$ref").string_value(),
            absl::StrCat(kRefPrefix, field->enum_type()->full_name()));
  EXPECT_TRUE(At(prop, "readOnly").bool_value());

  std::vector<std::string> names;
  for (int i = 0; i < field->enum_type()->value_count(); ++i) {
    names.push_back(field->enum_type()->value(i)->name());
  }
  const pb::Value& e = Schema(field->enum_type()->full_name());
  EXPECT_EQ(At(e, "type").string_value(), "string");
  EXPECT_THAT(Strings(At(e, "enum")), ElementsAreArray(names));
}

TEST_F(OpenApiTest, WellKnownTypesAreInlineAndDateIsAnObject) {
  const pb::Value& schemas = At(*doc_, {"components", "schemas"});
  for (const auto& [name, schema] : schemas.struct_value().fields()) {
    EXPECT_FALSE(absl::StartsWith(name, "google.protobuf.")) << name;
  }
  const pb::Value& date = Schema("google.type.Date");
  ASSERT_TRUE(date.has_struct_value());
  EXPECT_EQ(At(date, {"properties", "year", "type"}).string_value(), "integer");
  EXPECT_EQ(At(date, {"properties", "month", "format"}).string_value(),
            "int32");
}

TEST_F(OpenApiTest, EveryRefResolves) {
  std::vector<std::string> refs;
  CollectRefs(*doc_, &refs);
  ASSERT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    ASSERT_TRUE(absl::StartsWith(ref, kRefPrefix)) << ref;
    EXPECT_TRUE(Schema(ref.substr(kRefPrefix.size())).has_struct_value())
        << ref;
  }
}

// A value of a parameter's schema, as a client would send it.
std::string SampleValue(const pb::Value& doc, const pb::Value& schema) {
  const pb::Value* s = &schema;
  if (At(*s, "type").string_value() == "array") s = &At(*s, "items");
  const std::string ref = At(*s, "$ref").string_value();
  if (!ref.empty()) {
    const pb::Value& e =
        At(doc, {"components", "schemas", ref.substr(kRefPrefix.size())});
    const auto& values = At(e, "enum").list_value().values();
    return values.empty() ? "" : values.rbegin()->string_value();
  }
  const std::string type = At(*s, "type").string_value();
  const std::string format = At(*s, "format").string_value();
  if (format == "date") return "2022-05-01";
  if (format == "date-time") return "2022-05-01T10:00:00Z";
  if (format == "byte") return "eA==";
  if (type == "integer" || format == "int64" || format == "uint64") {
    return "7";
  }
  if (type == "number") return "1.5";
  if (type == "boolean") return "true";
  return "x";
}

// The document describes what the server takes: each operation's path, with
// its parameters filled in, reaches the operation's method, and each query
// parameter, alone, makes a request the transcoder accepts.
TEST_F(OpenApiTest, PathsAndQueryParametersAreWhatTheTranscoderTakes) {
  Transcoder transcoder(api_);
  int queries = 0;
  for (const auto& [path, item] : At(*doc_, "paths").struct_value().fields()) {
    for (const auto& [verb, op] : item.struct_value().fields()) {
      std::string concrete = path;
      for (size_t open = concrete.find('{'); open != std::string::npos;
           open = concrete.find('{')) {
        concrete.replace(open, concrete.find('}', open) - open + 1, "x1");
      }
      std::string method = verb;
      for (char& c : method) c = static_cast<char>(std::toupper(c));
      const RouteMatch match = routes_->Find(method, concrete);
      ASSERT_EQ(match.miss, RouteMatch::kMatched) << method << " " << concrete;
      const std::string id = At(op, "operationId").string_value();
      EXPECT_TRUE(absl::StartsWith(
          id, absl::StrCat(match.route->method->service()->name(), "_",
                           match.route->method->name())))
          << method << " " << concrete << " -> "
          << match.route->method->full_name();
      const std::string body =
          At(op, "requestBody").has_struct_value() ? "{}" : "";
      for (const pb::Value& p : At(op, "parameters").list_value().values()) {
        if (At(p, "in").string_value() != "query") continue;
        const std::string query =
            absl::StrCat(At(p, "name").string_value(), "=",
                         SampleValue(*doc_, At(p, "schema")));
        absl::StatusOr<std::string> request =
            transcoder.RequestBytes(match, query, body);
        EXPECT_TRUE(request.ok()) << method << " " << concrete << "?" << query
                                  << ": " << request.status();
        ++queries;
      }
    }
  }
  EXPECT_GT(queries, 100);
}

// A hand-made API: comments that need escaping, a binding with
// additional_bindings, a named body.
TEST(OpenApiSyntheticTest, EscapesCommentsAndNumbersAdditionalBindings) {
  pb::FileDescriptorSet set;
  std::set<std::string> added;
  std::function<void(const pb::FileDescriptor*)> add =
      [&](const pb::FileDescriptor* file) {
        if (!added.insert(file->name()).second) return;
        for (int i = 0; i < file->dependency_count(); ++i) {
          add(file->dependency(i));
        }
        file->CopyTo(set.add_file());
      };
  add(google::api::HttpRule::descriptor()->file());
  add(pb::DescriptorPool::generated_pool()->FindFileByName(
      "google/api/annotations.proto"));

  pb::FileDescriptorProto* file = set.add_file();
  file->set_name("cstopa/test/v1/test.proto");
  file->set_package("cstopa.test.v1");
  file->set_syntax("proto3");
  file->add_dependency("google/api/annotations.proto");
  pb::DescriptorProto* thing = file->add_message_type();
  thing->set_name("Thing");
  pb::FieldDescriptorProto* name = thing->add_field();
  name->set_name("name");
  name->set_number(1);
  name->set_type(pb::FieldDescriptorProto::TYPE_STRING);
  name->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
  name->set_json_name("name");
  pb::FieldDescriptorProto* big = thing->add_field();
  big->set_name("big_count");
  big->set_number(2);
  big->set_type(pb::FieldDescriptorProto::TYPE_UINT64);
  big->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
  big->set_json_name("bigCount");
  pb::ServiceDescriptorProto* service = file->add_service();
  service->set_name("ThingService");
  pb::MethodDescriptorProto* get = service->add_method();
  get->set_name("GetThing");
  get->set_input_type(".cstopa.test.v1.Thing");
  get->set_output_type(".cstopa.test.v1.Thing");
  google::api::HttpRule rule;
  rule.set_get("/v1/{name=things/*}");
  rule.add_additional_bindings()->set_get("/v1/{name=boxes/*/things/*}");
  get->mutable_options()->MutableExtension(google::api::http)->CopyFrom(rule);
  pb::MethodDescriptorProto* put = service->add_method();
  put->set_name("PutThing");
  put->set_input_type(".cstopa.test.v1.Thing");
  put->set_output_type(".cstopa.test.v1.Thing");
  rule.Clear();
  rule.set_post("/v1/things");
  rule.set_body("*");
  put->mutable_options()->MutableExtension(google::api::http)->CopyFrom(rule);

  const std::string tricky = " Say \"hi\" \\ tab\there\x01 and caf\xC3\xA9.\n";
  pb::SourceCodeInfo::Location* loc =
      file->mutable_source_code_info()->add_location();
  for (int p : {4, 0}) loc->add_path(p);
  for (int s : {0, 0, 1}) loc->add_span(s);
  loc->set_leading_comments(tricky);
  loc = file->mutable_source_code_info()->add_location();
  for (int p : {6, 0, 2, 0}) loc->add_path(p);
  for (int s : {0, 0, 1}) loc->add_span(s);
  loc->set_leading_comments(" Gets a thing. More words.\n");

  auto api = ApiDescriptors::FromSet(set.SerializeAsString());
  ASSERT_TRUE(api.ok()) << api.status();
  auto routes = RouteTable::Build(**api);
  ASSERT_TRUE(routes.ok()) << routes.status();
  const std::string text = OpenApiDocument(**api, *routes, OpenApiInfo());
  EXPECT_THAT(text, HasSubstr(R"(Say \"hi\" \\ tab\there\u0001 and café.)"));

  pb::Value doc;
  ASSERT_TRUE(pb::util::JsonStringToMessage(text, &doc).ok()) << text;
  EXPECT_EQ(
      At(doc, {"components", "schemas", "cstopa.test.v1.Thing", "description"})
          .string_value(),
      "Say \"hi\" \\ tab\there\x01 and caf\xC3\xA9.");
  const pb::Value& paths = At(doc, "paths");
  const pb::Value& first = At(paths, {"/v1/things/{thing}", "get"});
  EXPECT_EQ(At(first, "operationId").string_value(), "ThingService_GetThing");
  EXPECT_EQ(At(first, "summary").string_value(), "Gets a thing.");
  EXPECT_EQ(At(first, "description").string_value(),
            "Gets a thing. More words.");
  const pb::Value& second =
      At(paths, {"/v1/boxes/{box}/things/{thing}", "get"});
  EXPECT_EQ(At(second, "operationId").string_value(),
            "ThingService_GetThing_2");
  EXPECT_NE(Parameter(second, "box", "path"), nullptr);
  EXPECT_NE(Parameter(second, "thing", "path"), nullptr);
  EXPECT_EQ(
      At(At(paths, {"/v1/things/{thing}", "get"}),
         {"responses", "200", "content", "application/json", "schema", "$ref"})
          .string_value(),
      "#/components/schemas/cstopa.test.v1.Thing");
  // uint64 is a JSON string; body "*" without path fields is the message.
  EXPECT_EQ(At(doc, {"components", "schemas", "cstopa.test.v1.Thing",
                     "properties", "bigCount", "type"})
                .string_value(),
            "string");
  EXPECT_EQ(At(paths, {"/v1/things", "post", "requestBody", "content",
                       "application/json", "schema", "$ref"})
                .string_value(),
            "#/components/schemas/cstopa.test.v1.Thing");
}

}  // namespace
}  // namespace cstopa::gateway::http
