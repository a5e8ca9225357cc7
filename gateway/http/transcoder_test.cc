#include "gateway/http/transcoder.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cstopa/membership/v1/membership.pb.h"
#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/wrappers.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"

extern const unsigned char kCstopaDescriptorSet[];
extern const size_t kCstopaDescriptorSetSize;

namespace cstopa::gateway::http {
namespace {

namespace pb = google::protobuf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class TranscoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto api = ApiDescriptors::Load();
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = api->release();
    auto routes = RouteTable::Build(*api_);
    ASSERT_TRUE(routes.ok()) << routes.status();
    routes_ = new RouteTable(*std::move(routes));
  }

  // The request a method, path, query and body make, as a message of the
  // route's input type (text format for comparisons).
  absl::StatusOr<std::unique_ptr<pb::Message>> Request(
      absl::string_view method, absl::string_view path,
      absl::string_view query = "", absl::string_view body = "") {
    RouteMatch m = routes_->Find(method, path);
    if (m.miss != RouteMatch::kMatched) {
      return absl::NotFoundError(absl::StrCat("no route: ", method, " ", path));
    }
    Transcoder t(api_);
    absl::StatusOr<std::string> bytes = t.RequestBytes(m, query, body);
    if (!bytes.ok()) return bytes.status();
    std::unique_ptr<pb::Message> msg(
        api_->factory()->GetPrototype(m.route->method->input_type())->New());
    EXPECT_TRUE(msg->ParseFromString(*bytes));
    return msg;
  }

  std::string Text(absl::string_view method, absl::string_view path,
                   absl::string_view query = "", absl::string_view body = "") {
    auto msg = Request(method, path, query, body);
    if (!msg.ok()) return absl::StrCat("error: ", msg.status().ToString());
    std::string text;
    pb::TextFormat::Printer printer;
    printer.SetSingleLineMode(true);
    printer.PrintToString(**msg, &text);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  }

  // The status of a request that must fail.
  absl::Status Error(absl::string_view method, absl::string_view path,
                     absl::string_view query = "",
                     absl::string_view body = "") {
    auto msg = Request(method, path, query, body);
    if (msg.ok()) return absl::OkStatus();
    return msg.status();
  }

  static ApiDescriptors* api_;
  static RouteTable* routes_;
};

ApiDescriptors* TranscoderTest::api_ = nullptr;
RouteTable* TranscoderTest::routes_ = nullptr;

// The fields of an INVALID_ARGUMENT's field violations.
std::vector<std::string> Violations(const absl::Status& status) {
  std::vector<std::string> out;
  auto bad = common::GetBadRequest(status);
  if (!bad.has_value()) return out;
  for (const auto& v : bad->field_violations()) out.push_back(v.field());
  return out;
}

// ---------------------------------------------------------------------------
// Descriptors and routes

TEST_F(TranscoderTest, LoadsEveryCstopaService) {
  std::set<std::string> names;
  for (const auto* s : api_->services()) names.insert(s->full_name());
  EXPECT_TRUE(names.count("cstopa.membership.v1.MembershipService"));
  EXPECT_TRUE(names.count("cstopa.legislation.v1.LegislationService"));
  EXPECT_TRUE(names.count("cstopa.events.v1.EventsService"));
  EXPECT_TRUE(names.count("cstopa.monitoring.v1.MonitoringService"));
  EXPECT_TRUE(names.count("cstopa.gateway.v1.GatewayService"));
  // Batches of gRPC reads are not an HTTP API.
  EXPECT_FALSE(names.count("cstopa.batch.v1.BatchService"));
  EXPECT_NE(api_->pool().FindMessageTypeByName("google.rpc.ErrorInfo"),
            nullptr);
}

// `needle`'s occurrences in the protos' sources.
int CountInProtos(const std::string& needle) {
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           CSTOPA_PROTO_DIR "/cstopa")) {
    if (entry.path().extension() != ".proto") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();
    for (size_t at = source.find(needle); at != std::string::npos;
         at = source.find(needle, at + 1)) {
      ++count;
    }
  }
  return count;
}

TEST_F(TranscoderTest, EveryAnnotatedRpcHasARoute) {
  // As many methods routed as the protos' sources annotate, and a route
  // for each annotation and each additional binding.
  const int annotated = CountInProtos("option (google.api.http)");
  const int additional = CountInProtos("additional_bindings");
  ASSERT_GT(annotated, 100);
  std::set<std::string> routed;
  for (const Route& r : routes_->routes()) routed.insert(r.method->full_name());
  EXPECT_EQ(static_cast<int>(routed.size()), annotated);
  EXPECT_EQ(static_cast<int>(routes_->routes().size()), annotated + additional);
  // Today every method of every service is annotated.
  int methods = 0;
  for (const auto* s : api_->services()) methods += s->method_count();
  EXPECT_EQ(methods, annotated);
  for (const char* name :
       {"cstopa.membership.v1.MembershipService.GetState",
        "cstopa.membership.v1.MembershipService.ListDelegations",
        "cstopa.legislation.v1.LegislationService.UndeleteDocument",
        "cstopa.events.v1.EventsService.WatchEvents",
        "cstopa.gateway.v1.GatewayService.GetStateProfile",
        "cstopa.gateway.v1.GatewayService.GetAssemblyDashboard"}) {
    EXPECT_TRUE(routed.count(name)) << name;
  }
}

TEST_F(TranscoderTest, RoutesCarryTheirAnnotation) {
  const Route* undelete = nullptr;
  const Route* watch = nullptr;
  const Route* update = nullptr;
  for (const Route& r : routes_->routes()) {
    if (r.method->name() == "UndeleteDocument") undelete = &r;
    if (r.method->name() == "WatchMembership") watch = &r;
    if (r.method->name() == "UpdateState") update = &r;
  }
  ASSERT_NE(undelete, nullptr);
  EXPECT_EQ(undelete->http_method, "POST");
  EXPECT_EQ(undelete->path_template, "/v1/{name=documents/*}:undelete");
  EXPECT_EQ(undelete->body, "*");
  EXPECT_THAT(undelete->path_fields, ElementsAre("name"));
  EXPECT_FALSE(undelete->server_streaming);
  ASSERT_NE(watch, nullptr);
  EXPECT_TRUE(watch->server_streaming);
  EXPECT_EQ(watch->path_template, "/v1/membership:watch");
  ASSERT_NE(update, nullptr);
  EXPECT_EQ(update->http_method, "PATCH");
  EXPECT_EQ(update->body, "state");
  EXPECT_THAT(update->path_fields, ElementsAre("state.name"));
}

std::string MethodOf(const RouteMatch& m) {
  if (m.miss != RouteMatch::kMatched) return "<miss>";
  return m.route->method->name();
}

TEST_F(TranscoderTest, FindsRealRoutes) {
  RouteMatch m = routes_->Find("GET", "/v1/states/kz");
  ASSERT_EQ(m.miss, RouteMatch::kMatched);
  EXPECT_EQ(m.route->method->full_name(),
            "cstopa.membership.v1.MembershipService.GetState");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/kz")));

  m = routes_->Find("GET", "/v1/parliaments/kz-parliament/delegations");
  EXPECT_EQ(MethodOf(m), "ListDelegations");
  EXPECT_THAT(m.bindings,
              ElementsAre(Pair("parent", "parliaments/kz-parliament")));

  m = routes_->Find("GET", "/v1/parliaments/p1/delegations/d1");
  EXPECT_EQ(MethodOf(m), "GetDelegation");
  EXPECT_THAT(m.bindings,
              ElementsAre(Pair("name", "parliaments/p1/delegations/d1")));

  m = routes_->Find("POST", "/v1/documents/model-act-1:undelete");
  EXPECT_EQ(MethodOf(m), "UndeleteDocument");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "documents/model-act-1")));

  EXPECT_EQ(MethodOf(routes_->Find("POST", "/v1/documents/d:transition")),
            "TransitionDocument");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/documents/d:listRevisions")),
            "ListDocumentRevisions");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/states/kz:summarize")),
            "SummarizeState");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/states:batchGet")),
            "BatchGetStates");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/states")), "ListStates");
  EXPECT_EQ(MethodOf(routes_->Find("POST", "/v1/states")), "CreateState");
  EXPECT_EQ(MethodOf(routes_->Find("PATCH", "/v1/states/kz")), "UpdateState");
  EXPECT_EQ(MethodOf(routes_->Find("DELETE", "/v1/states/kz")), "DeleteState");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/membership:watch")),
            "WatchMembership");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/events:watch")), "WatchEvents");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/dashboard")),
            "GetAssemblyDashboard");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/backends")), "ListBackends");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/persons/p1/profile")),
            "GetPersonProfile");
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/actionPlans/a/items/i")),
            "GetActionPlanItem");
}

TEST_F(TranscoderTest, PatchBindsANestedField) {
  RouteMatch m = routes_->Find("PATCH", "/v1/states/kz");
  ASSERT_EQ(m.miss, RouteMatch::kMatched);
  EXPECT_THAT(m.bindings, ElementsAre(Pair("state.name", "states/kz")));
}

TEST_F(TranscoderTest, LiteralBeatsVariable) {
  RouteMatch m = routes_->Find("GET", "/v1/states/kz/profile");
  ASSERT_EQ(m.miss, RouteMatch::kMatched);
  EXPECT_EQ(m.route->method->full_name(),
            "cstopa.gateway.v1.GatewayService.GetStateProfile");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/kz/profile")));
  // `states:batchGet` is the literal route, not a state named ":batchGet".
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/states:batchGet")),
            "BatchGetStates");
}

TEST_F(TranscoderTest, UnknownVerbFallsBackToTheWholeSegment) {
  // No route has the verb `foo`: the colon is part of the name.
  RouteMatch m = routes_->Find("GET", "/v1/states/kz:foo");
  EXPECT_EQ(MethodOf(m), "GetState");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/kz:foo")));
}

TEST_F(TranscoderTest, NoRoute) {
  for (const char* path :
       {"/v1/nothing", "/v2/states/kz", "/v1/states/kz/extra/more", "",
        "v1/states", "/", "/v1/states/", "/v1//kz",
        "/v1/states/kz:undelete/x"}) {
    RouteMatch m = routes_->Find("GET", path);
    EXPECT_EQ(m.miss, RouteMatch::kNoRoute) << path;
    EXPECT_EQ(m.route, nullptr);
  }
}

TEST_F(TranscoderTest, WrongMethodListsTheAllowedOnes) {
  RouteMatch m = routes_->Find("PUT", "/v1/states/kz");
  EXPECT_EQ(m.miss, RouteMatch::kWrongMethod);
  EXPECT_EQ(m.allow, "GET, PATCH, DELETE");
  m = routes_->Find("DELETE", "/v1/states");
  EXPECT_EQ(m.miss, RouteMatch::kWrongMethod);
  EXPECT_EQ(m.allow, "GET, POST");
  m = routes_->Find("GET", "/v1/documents/d:undelete");
  // GET of a name with a colon is GetDocument's.
  EXPECT_EQ(MethodOf(m), "GetDocument");
  m = routes_->Find("POST", "/v1/states/kz/profile");
  EXPECT_EQ(m.miss, RouteMatch::kWrongMethod);
  EXPECT_EQ(m.allow, "GET");
  m = routes_->Find("OPTIONS", "/v1/backends");
  EXPECT_EQ(m.miss, RouteMatch::kWrongMethod);
  EXPECT_EQ(m.allow, "GET");
}

TEST_F(TranscoderTest, HeadMatchesGet) {
  EXPECT_EQ(MethodOf(routes_->Find("HEAD", "/v1/states/kz")), "GetState");
}

TEST_F(TranscoderTest, BoundValuesArePercentDecoded) {
  RouteMatch m = routes_->Find("GET", "/v1/states/k%7Az%20x");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/kzz x")));
  // `name=states/*` binds two segments: as http.proto says of variables
  // that bind several, %2F stays encoded (it is not a segment's '/').
  m = routes_->Find("GET", "/v1/states/a%2Fb");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/a%2Fb")));
  m = routes_->Find("GET", "/v1/states/%D0%BA%D0%B7");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/\xD0\xBA\xD0\xB7")));
  // Bad escapes are kept as they are.
  m = routes_->Find("GET", "/v1/states/%zz");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/%zz")));
  m = routes_->Find("GET", "/v1/states/kz%");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/kz%")));
  m = routes_->Find("GET", "/v1/states/kz%4");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("name", "states/kz%4")));
}

// ---------------------------------------------------------------------------
// Requests

TEST_F(TranscoderTest, PathBindingsSetTheRequest) {
  EXPECT_EQ(Text("GET", "/v1/states/kz"), "name: \"states/kz\"");
  EXPECT_EQ(Text("GET", "/v1/parliaments/p/delegations"),
            "parent: \"parliaments/p\"");
}

TEST_F(TranscoderTest, QueryParametersOfEveryKind) {
  // int32, string, bool, Date (both forms), proto and JSON names.
  EXPECT_EQ(
      Text("GET", "/v1/states",
           "page_size=10&pageToken=abc&filter=region_code%3D%22CA%22+x"
           "&show_deleted=true&as_of=2022-05-01"),
      "page_size: 10 page_token: \"abc\" filter: \"region_code=\\\"CA\\\" x\" "
      "show_deleted: true as_of { year: 2022 month: 5 day: 1 }");
  EXPECT_EQ(
      Text("GET", "/v1/states/kz", "as_of.year=2022&asOf.month=5&as_of.day=1"),
      "name: \"states/kz\" as_of { year: 2022 month: 5 day: 1 }");
  EXPECT_EQ(Text("GET", "/v1/states", "asOf=2024-02-29&showDeleted=false"),
            "as_of { year: 2024 month: 2 day: 29 }");
  // Repeated by repeating the key.
  EXPECT_EQ(
      Text("GET", "/v1/states:batchGet", "names=states/kz&names=states%2Fru"),
      "names: \"states/kz\" names: \"states/ru\"");
  // Enums by name or number.
  EXPECT_EQ(
      Text("GET", "/v1/documents:search", "query=x&view=DOCUMENT_VIEW_FULL"),
      Text("GET", "/v1/documents:search", "query=x&view=2"));
  EXPECT_THAT(
      Text("GET", "/v1/documents:search", "query=x&view=DOCUMENT_VIEW_FULL"),
      HasSubstr("view: DOCUMENT_VIEW_FULL"));
  // Empty pieces are skipped.
  EXPECT_EQ(Text("GET", "/v1/states", "&&page_size=1&"), "page_size: 1");
}

TEST_F(TranscoderTest, BadQueryValuesNameTheParameter) {
  struct Case {
    const char* query;
    const char* field;
  } cases[] = {
      {"page_size=ten", "page_size"},
      {"pageSize=99999999999", "pageSize"},
      {"show_deleted=yes", "show_deleted"},
      {"as_of=2022-13-01", "as_of"},
      {"as_of=2023-02-29", "as_of"},
      {"as_of=yesterday", "as_of"},
      {"as_of.year=x", "as_of.year"},
      {"nope=1", "nope"},
      {"as_of.era=1", "as_of.era"},
      {"page_size=1&page_size=2", "page_size"},
      {"filter=%FF", "filter"},
  };
  for (const auto& c : cases) {
    absl::Status s = Error("GET", "/v1/states", c.query);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.query;
    EXPECT_THAT(Violations(s), ElementsAre(c.field)) << c.query << " " << s;
  }
  absl::Status s = Error("GET", "/v1/documents:search", "query=x&view=FULLEST");
  EXPECT_THAT(Violations(s), ElementsAre("view"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("FULLEST"));
}

TEST_F(TranscoderTest, PathFieldSetDifferentlyIsAnError) {
  absl::Status s = Error("GET", "/v1/states/kz", "name=states/ru");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Violations(s), ElementsAre("name"));
  // The same value is fine.
  EXPECT_EQ(Text("GET", "/v1/states/kz", "name=states/kz"),
            "name: \"states/kz\"");
  // In the body.
  s = Error("PATCH", "/v1/states/kz", "", R"({"name": "states/ru"})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Violations(s), ElementsAre("state.name"));
  EXPECT_EQ(Text("PATCH", "/v1/states/kz", "", R"({"name": "states/kz"})"),
            "state { name: \"states/kz\" }");
}

TEST_F(TranscoderTest, BodyIntoAField) {
  EXPECT_EQ(
      Text("PATCH", "/v1/states/kz", "update_mask=displayName,region_code",
           R"({"regionCode": "CA", "display_name": [{"text": "Kazakhstan"}]})"),
      "state { name: \"states/kz\" display_name { text: \"Kazakhstan\" } "
      "region_code: \"CA\" } update_mask { paths: \"display_name\" paths: "
      "\"region_code\" }");
  EXPECT_EQ(
      Text("POST", "/v1/states", "state_id=kz", R"({"regionCode": "CA"})"),
      "state_id: \"kz\" state { region_code: \"CA\" }");
  // A query parameter may not reach into the body's field.
  absl::Status s = Error("POST", "/v1/states", "state.region_code=CA", "{}");
  EXPECT_THAT(Violations(s), ElementsAre("state.region_code"));
}

TEST_F(TranscoderTest, BodyIsTheWholeRequest) {
  EXPECT_EQ(Text("POST", "/v1/documents/d:undelete", "", R"({"etag": "e1"})"),
            "name: \"documents/d\" etag: \"e1\"");
  EXPECT_EQ(Text("POST", "/v1/documents/d:undelete", "", ""),
            "name: \"documents/d\"");
  EXPECT_EQ(
      Text(
          "POST", "/v1/documents/d:transition", "",
          R"({"stage": "DOCUMENT_STAGE_ADOPTED", "date": {"year": 2022, "month": 5, "day": 1}})")
          .substr(0, 19),
      "name: \"documents/d\"");
  // Every field is in the body: no query parameters.
  absl::Status s = Error("POST", "/v1/documents/d:undelete", "etag=e1", "{}");
  EXPECT_THAT(Violations(s), ElementsAre("etag"));
  // The path's field set differently in the body.
  s = Error("POST", "/v1/documents/d:undelete", "",
            R"({"name": "documents/x"})");
  EXPECT_THAT(Violations(s), ElementsAre("name"));
}

TEST_F(TranscoderTest, BadBodies) {
  for (const char* body :
       {"{", "[]", "not json", R"({"etag": 5})", R"({"etag": "a"} trailing)",
        R"({"unknownField": 1})", "{\"etag\": \"\xFF\xFE\"}", "\"str\"",
        "null x"}) {
    absl::Status s = Error("POST", "/v1/documents/d:undelete", "", body);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_TRUE(common::GetBadRequest(s).has_value()) << body;
  }
  absl::Status s =
      Error("POST", "/v1/documents/d:undelete", "", R"({"unknownField": 1})");
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknownField"));
  s = Error("PATCH", "/v1/states/kz", "", R"({"nope": 1})");
  EXPECT_THAT(Violations(s), ElementsAre("state.nope")) << s;
}

TEST_F(TranscoderTest, BodyOnAGetRouteIsAnError) {
  absl::Status s = Error("GET", "/v1/states/kz", "", R"({"name": "x"})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("takes no request body"));
  // Whitespace is no body.
  EXPECT_EQ(Text("GET", "/v1/states/kz", "", " \r\n"), "name: \"states/kz\"");
}

// ---------------------------------------------------------------------------
// Answers and errors

TEST_F(TranscoderTest, ResponseJsonOfARealMessage) {
  cstopa::membership::v1::State state;
  state.set_name("states/kz");
  state.set_region_code("KZ");
  auto* text = state.add_display_name();
  text->set_text("Kazakhstan");
  state.set_current_status(cstopa::membership::v1::MEMBERSHIP_STATUS_MEMBER);
  state.mutable_create_time()->set_seconds(1651363200);
  Transcoder t(api_);
  const pb::Descriptor* type =
      api_->pool().FindMessageTypeByName("cstopa.membership.v1.State");
  ASSERT_NE(type, nullptr);
  auto json = t.ResponseJson(*type, state.SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"name\":\"states/kz\""));
  EXPECT_THAT(*json, HasSubstr("\"regionCode\":\"KZ\""));
  EXPECT_THAT(*json, HasSubstr("\"displayName\":[{"));
  EXPECT_THAT(*json,
              HasSubstr("\"currentStatus\":\"MEMBERSHIP_STATUS_MEMBER\""));
  EXPECT_THAT(*json, HasSubstr("\"createTime\":\"2022-05-01T00:00:00Z\""));
  EXPECT_THAT(*json, ::testing::Not(HasSubstr("etag")));  // no defaults

  // Not the type's bytes.
  auto bad = t.ResponseJson(*type, std::string("\xFF\xFF\xFF", 3));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  for (std::string b :
       {std::string("\x12\x02\x12\xFF", 4),      // nested length past the end
        std::string("\x12\x05\x12\x01", 4),      // length past the end
        std::string("\x0A\x02\xFF\xFE", 4),      // a string not UTF-8
        std::string("\x12\x03\x12\x05\x0a", 5),  // nested length too long
        std::string("\x00", 1)}) {               // field number 0
    EXPECT_EQ(t.ResponseJson(*type, b).status().code(),
              absl::StatusCode::kInternal);
  }
  // Empty bytes are the empty message.
  EXPECT_EQ(*t.ResponseJson(*type, ""), "{}");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
}

TEST_F(TranscoderTest, ResponseJsonPrintsAnyByItsType) {
  // The gateway's SectionStatus carries a google.rpc.Status, whose details
  // are Any: printed with "@type"; one of a type the descriptors do not
  // know is left out rather than failing the answer.
  google::rpc::ErrorInfo info;
  info.set_reason("BACKEND_DOWN");
  info.set_domain("gateway.cstopa.org");
  (*info.mutable_metadata())["service"] = "events";
  google::rpc::Status rpc;
  rpc.set_code(14);
  rpc.set_message("events is down");
  rpc.add_details()->PackFrom(info);
  const pb::Descriptor* type =
      api_->pool().FindMessageTypeByName("cstopa.gateway.v1.SectionStatus");
  ASSERT_NE(type, nullptr);
  std::unique_ptr<pb::Message> section(
      api_->factory()->GetPrototype(type)->New());
  const pb::Reflection* r = section->GetReflection();
  r->SetString(section.get(), type->FindFieldByName("section"), "events");
  ASSERT_TRUE(r->MutableMessage(section.get(), type->FindFieldByName("status"))
                  ->ParseFromString(rpc.SerializeAsString()));
  Transcoder t(api_);
  auto json = t.ResponseJson(*type, section->SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(
      *json,
      R"({"section":"events","status":{"code":14,"message":"events is down",)"
      R"("details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"
      R"("reason":"BACKEND_DOWN","domain":"gateway.cstopa.org",)"
      R"("metadata":{"service":"events"}}]}})");

  auto* unknown = rpc.add_details();
  unknown->set_type_url("type.googleapis.com/no.such.Detail");
  unknown->set_value("abc");
  ASSERT_TRUE(r->MutableMessage(section.get(), type->FindFieldByName("status"))
                  ->ParseFromString(rpc.SerializeAsString()));
  auto partial = t.ResponseJson(*type, section->SerializeAsString());
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(
      *partial,
      absl::StrCat(json->substr(0, json->size() - 3),
                   R"(,{"@type":"type.googleapis.com/no.such.Detail"}]}})"));
}

TEST_F(TranscoderTest, DISABLED_Speed) {
  Transcoder t(api_);
  cstopa::membership::v1::State state;
  state.set_name("states/kz");
  state.add_display_name()->set_text("Kazakhstan");
  state.mutable_create_time()->set_seconds(1651363200);
  std::string bytes = state.SerializeAsString();
  const pb::Descriptor* type =
      api_->pool().FindMessageTypeByName("cstopa.membership.v1.State");
  const int n = getenv("SPEED_N") ? atoi(getenv("SPEED_N")) : 100000;
  const bool only_list = getenv("SPEED_LIST") != nullptr;
  auto time = [&](const char* what, auto f) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::printf("%-14s %8.0f ns\n", what, static_cast<double>(ns) / n);
  };
  if (!only_list)
    time("Find", [&] { routes_->Find("GET", "/v1/states/kz/profile"); });
  RouteMatch m = routes_->Find("GET", "/v1/states/kz");
  if (!only_list)
    time("RequestBytes",
         [&] { (void)t.RequestBytes(m, "as_of=2022-05-01", ""); });
  RouteMatch p = routes_->Find("PATCH", "/v1/states/kz");
  if (!only_list)
    time("RequestBody", [&] {
      (void)t.RequestBytes(p, "update_mask=regionCode",
                           R"({"regionCode":"KZ"})");
    });
  if (!only_list)
    time("ResponseJson", [&] { (void)t.ResponseJson(*type, bytes); });
  cstopa::membership::v1::ListStatesResponse list;
  for (int i = 0; i < 50; ++i) {
    auto* s = list.add_states();
    s->CopyFrom(state);
    s->set_region_code("KZ");
    s->add_display_name()->set_text("Казахстан");
    s->set_etag("abcdef0123456789");
    s->mutable_update_time()->set_seconds(1651363200 + i);
    s->set_current_status(cstopa::membership::v1::MEMBERSHIP_STATUS_MEMBER);
  }
  list.set_next_page_token("token");
  std::string list_bytes = list.SerializeAsString();
  const pb::Descriptor* list_type = api_->pool().FindMessageTypeByName(
      "cstopa.membership.v1.ListStatesResponse");
  std::printf("list bytes %zu\n", list_bytes.size());
  time("ListJson", [&] { (void)t.ResponseJson(*list_type, list_bytes); });
  if (!only_list)
    time("ListDynParse", [&] {
      std::unique_ptr<pb::Message> l(
          api_->factory()->GetPrototype(list_type)->New());
      l->ParseFromString(list_bytes);
    });
  if (!only_list)
    time("ListParse", [&] {
      cstopa::membership::v1::ListStatesResponse l;
      l.ParseFromString(list_bytes);
    });
}

TEST_F(TranscoderTest, ErrorJsonHasTheDetails) {
  absl::Status status =
      common::InvalidArgument("page_size", "must not be negative");
  google::rpc::Status rpc = common::ToRpcStatus(status);
  Transcoder t(api_);
  auto [http, json] = t.ErrorJson(3, "page_size: must not be negative",
                                  rpc.SerializeAsString());
  EXPECT_EQ(http, 400);
  EXPECT_THAT(
      json,
      HasSubstr(
          R"({"error":{"code":400,"message":"page_size: must not be negative","status":"INVALID_ARGUMENT","details":[)"));
  EXPECT_THAT(
      json,
      HasSubstr(
          R"({"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"page_size","description":"must not be negative"}]})"));
  EXPECT_THAT(
      json,
      HasSubstr(
          R"({"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID_ARGUMENT"})"));
  EXPECT_EQ(json.substr(json.size() - 3), "]}}");
}

TEST_F(TranscoderTest, ErrorJsonNeverFails) {
  Transcoder t(api_);
  google::rpc::Status rpc;
  rpc.set_code(5);
  auto* unknown = rpc.add_details();
  unknown->set_type_url("type.googleapis.com/no.such.Type");
  unknown->set_value("xyz");
  auto* foreign = rpc.add_details();
  foreign->set_type_url("example.com/x.Y");
  auto* broken = rpc.add_details();
  broken->set_type_url("type.googleapis.com/google.rpc.ErrorInfo");
  broken->set_value("\xFF\xFF");
  auto [http, json] =
      t.ErrorJson(5, "no \"such\"\n\xFF state", rpc.SerializeAsString());
  EXPECT_EQ(http, 404);
  EXPECT_EQ(json,
            "{\"error\":{\"code\":404,\"message\":\"no "
            "\\\"such\\\"\\n\xEF\xBF\xBD state\","
            "\"status\":\"NOT_FOUND\",\"details\":["
            "{\"@type\":\"type.googleapis.com/no.such.Type\"},"
            "{\"@type\":\"example.com/x.Y\"},"
            "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\"}]}}");
  auto [http2, json2] = t.ErrorJson(14, "down", "garbage\xFF");
  EXPECT_EQ(http2, 503);
  EXPECT_EQ(
      json2,
      R"({"error":{"code":503,"message":"down","status":"UNAVAILABLE","details":[]}})");
  auto [http3, json3] = t.ErrorJson(99, "", "");
  EXPECT_EQ(http3, 500);
  EXPECT_THAT(json3, HasSubstr("\"status\":\"UNKNOWN\""));
}

// ---------------------------------------------------------------------------
// A synthetic API (the embedded set plus a test file): every kind of field,
// additional_bindings, `**`, a scalar body.

constexpr char kTestFile[] = R"pb(
  name: "cstopa/test/v1/test.proto"
  package: "cstopa.test.v1"
  dependency: "google/api/annotations.proto"
  dependency: "google/protobuf/timestamp.proto"
  dependency: "google/protobuf/duration.proto"
  dependency: "google/protobuf/field_mask.proto"
  dependency: "google/protobuf/wrappers.proto"
  dependency: "google/type/date.proto"
  syntax: "proto3"
  message_type {
    name: "Thing"
    field {
      name: "name"
      number: 1
      type: TYPE_STRING
      label: LABEL_OPTIONAL
      json_name: "name"
    }
    field {
      name: "display_name"
      number: 2
      type: TYPE_STRING
      label: LABEL_OPTIONAL
      json_name: "displayName"
    }
  }
  message_type {
    name: "Req"
    field {
      name: "parent"
      number: 1
      type: TYPE_STRING
      label: LABEL_OPTIONAL
      json_name: "parent"
    }
    field {
      name: "big"
      number: 2
      type: TYPE_INT64
      label: LABEL_OPTIONAL
      json_name: "big"
    }
    field {
      name: "ubig"
      number: 3
      type: TYPE_UINT64
      label: LABEL_OPTIONAL
      json_name: "ubig"
    }
    field {
      name: "ratio"
      number: 4
      type: TYPE_DOUBLE
      label: LABEL_OPTIONAL
      json_name: "ratio"
    }
    field {
      name: "small_ratio"
      number: 5
      type: TYPE_FLOAT
      label: LABEL_OPTIONAL
      json_name: "smallRatio"
    }
    field {
      name: "raw"
      number: 6
      type: TYPE_BYTES
      label: LABEL_OPTIONAL
      json_name: "raw"
    }
    field {
      name: "when_time"
      number: 7
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Timestamp"
      label: LABEL_OPTIONAL
      json_name: "whenTime"
    }
    field {
      name: "wait"
      number: 8
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Duration"
      label: LABEL_OPTIONAL
      json_name: "wait"
    }
    field {
      name: "update_mask"
      number: 9
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.FieldMask"
      label: LABEL_OPTIONAL
      json_name: "updateMask"
    }
    field {
      name: "day"
      number: 10
      type: TYPE_MESSAGE
      type_name: ".google.type.Date"
      label: LABEL_OPTIONAL
      json_name: "day"
    }
    field {
      name: "kinds"
      number: 11
      type: TYPE_ENUM
      type_name: ".cstopa.test.v1.Kind"
      label: LABEL_REPEATED
      json_name: "kinds"
    }
    field {
      name: "flags"
      number: 12
      type: TYPE_BOOL
      label: LABEL_REPEATED
      json_name: "flags"
    }
    field {
      name: "limit"
      number: 13
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Int32Value"
      label: LABEL_OPTIONAL
      json_name: "limit"
    }
    field {
      name: "thing"
      number: 14
      type: TYPE_MESSAGE
      type_name: ".cstopa.test.v1.Thing"
      label: LABEL_OPTIONAL
      json_name: "thing"
    }
    field {
      name: "note"
      number: 15
      type: TYPE_STRING
      label: LABEL_OPTIONAL
      json_name: "note"
    }
    field {
      name: "days"
      number: 16
      type: TYPE_MESSAGE
      type_name: ".google.type.Date"
      label: LABEL_REPEATED
      json_name: "days"
    }
    field {
      name: "counts"
      number: 17
      type: TYPE_MESSAGE
      type_name: ".cstopa.test.v1.Req.CountsEntry"
      label: LABEL_REPEATED
      json_name: "counts"
    }
    field {
      name: "uid"
      number: 18
      type: TYPE_UINT32
      label: LABEL_OPTIONAL
      json_name: "uid"
    }
    field {
      name: "custom_json"
      number: 19
      type: TYPE_STRING
      label: LABEL_OPTIONAL
      json_name: "renamed"
    }
    nested_type {
      name: "CountsEntry"
      field {
        name: "key"
        number: 1
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "key"
      }
      field {
        name: "value"
        number: 2
        type: TYPE_INT32
        label: LABEL_OPTIONAL
        json_name: "value"
      }
      options { map_entry: true }
    }
  }
  enum_type {
    name: "Kind"
    value { name: "KIND_UNSPECIFIED" number: 0 }
    value { name: "KIND_A" number: 1 }
    value { name: "KIND_B" number: 2 }
  }
  service {
    name: "TestService"
    method {
      name: "Get"
      input_type: ".cstopa.test.v1.Req"
      output_type: ".cstopa.test.v1.Thing"
    }
    method {
      name: "Deep"
      input_type: ".cstopa.test.v1.Req"
      output_type: ".cstopa.test.v1.Thing"
    }
    method {
      name: "SetNote"
      input_type: ".cstopa.test.v1.Req"
      output_type: ".cstopa.test.v1.Thing"
    }
    method {
      name: "Unannotated"
      input_type: ".cstopa.test.v1.Req"
      output_type: ".cstopa.test.v1.Thing"
    }
    method {
      name: "Stream"
      input_type: ".cstopa.test.v1.Req"
      output_type: ".cstopa.test.v1.Thing"
      server_streaming: true
    }
  }
)pb";

class SyntheticApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pb::FileDescriptorSet set;
    ASSERT_TRUE(set.ParseFromArray(kCstopaDescriptorSet,
                                   static_cast<int>(kCstopaDescriptorSetSize)));
    pb::DoubleValue::descriptor()->file()->CopyTo(set.add_file());
    pb::FileDescriptorProto* file = set.add_file();
    ASSERT_TRUE(pb::TextFormat::ParseFromString(kTestFile, file));
    auto* service = file->mutable_service(0);
    auto rule = [&](int method) {
      return service->mutable_method(method)
          ->mutable_options()
          ->MutableExtension(google::api::http);
    };
    rule(0)->set_get("/v1/{parent=shelves/*}/things");
    auto* extra = rule(0)->add_additional_bindings();
    extra->set_get("/v1/things:all");
    extra = rule(0)->add_additional_bindings();
    extra->mutable_custom()->set_kind("SEARCH");
    extra->mutable_custom()->set_path("/v1/things");
    rule(1)->set_get("/v1/{parent=shelves/*}/deep/{thing.name=**}:peek");
    rule(2)->set_put("/v1/{parent=shelves/*}/note");
    rule(2)->set_body("note");
    rule(4)->set_get("/v1/things:watch");
    auto api = ApiDescriptors::FromSet(set.SerializeAsString());
    ASSERT_TRUE(api.ok()) << api.status();
    api_ = api->release();
    auto routes = RouteTable::Build(*api_);
    ASSERT_TRUE(routes.ok()) << routes.status();
    routes_ = new RouteTable(*std::move(routes));
  }

  absl::StatusOr<std::string> Text(absl::string_view method,
                                   absl::string_view path,
                                   absl::string_view query,
                                   absl::string_view body = "") {
    RouteMatch m = routes_->Find(method, path);
    if (m.miss != RouteMatch::kMatched) return absl::NotFoundError("no route");
    Transcoder t(api_);
    absl::StatusOr<std::string> bytes = t.RequestBytes(m, query, body);
    if (!bytes.ok()) return bytes.status();
    std::unique_ptr<pb::Message> msg(
        api_->factory()->GetPrototype(m.route->method->input_type())->New());
    EXPECT_TRUE(msg->ParseFromString(*bytes));
    std::string text;
    pb::TextFormat::Printer printer;
    printer.SetSingleLineMode(true);
    printer.PrintToString(*msg, &text);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  }

  std::string Query(absl::string_view query) {
    auto text = Text("GET", "/v1/shelves/s/things", query);
    if (!text.ok()) return text.status().ToString();
    std::string prefix = "parent: \"shelves/s\" ";
    if (*text == "parent: \"shelves/s\"") return "";
    if (text->rfind(prefix, 0) == 0) return text->substr(prefix.size());
    return *text;
  }

  std::vector<std::string> QueryError(absl::string_view query) {
    auto text = Text("GET", "/v1/shelves/s/things", query);
    EXPECT_FALSE(text.ok()) << query << " -> " << *text;
    if (text.ok()) return {};
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    return Violations(text.status());
  }

  static ApiDescriptors* api_;
  static RouteTable* routes_;
};

ApiDescriptors* SyntheticApiTest::api_ = nullptr;
RouteTable* SyntheticApiTest::routes_ = nullptr;

TEST_F(SyntheticApiTest, OnlyAnnotatedMethodsAndEveryBinding) {
  std::vector<std::string> test_routes;
  for (const Route& r : routes_->routes()) {
    if (r.method->service()->name() != "TestService") continue;
    test_routes.push_back(absl::StrCat(r.method->name(), " ", r.http_method,
                                       " ", r.path_template));
  }
  EXPECT_THAT(
      test_routes,
      ElementsAre("Get GET /v1/{parent=shelves/*}/things",
                  "Get GET /v1/things:all", "Get SEARCH /v1/things",
                  "Deep GET /v1/{parent=shelves/*}/deep/{thing.name=**}:peek",
                  "SetNote PUT /v1/{parent=shelves/*}/note",
                  "Stream GET /v1/things:watch"));
  EXPECT_EQ(MethodOf(routes_->Find("GET", "/v1/things:all")), "Get");
  EXPECT_EQ(MethodOf(routes_->Find("SEARCH", "/v1/things")), "Get");
  RouteMatch m = routes_->Find("GET", "/v1/things");
  EXPECT_EQ(m.miss, RouteMatch::kWrongMethod);
  EXPECT_EQ(m.allow, "SEARCH");
}

TEST_F(SyntheticApiTest, DoubleStarBindsTheRest) {
  RouteMatch m = routes_->Find("GET", "/v1/shelves/s/deep/a/b%2Fc/d%20e:peek");
  ASSERT_EQ(m.miss, RouteMatch::kMatched);
  EXPECT_THAT(m.bindings, ElementsAre(Pair("parent", "shelves/s"),
                                      Pair("thing.name", "a/b%2Fc/d e")));
  EXPECT_EQ(*Text("GET", "/v1/shelves/s/deep/a/b:peek", ""),
            "parent: \"shelves/s\" thing { name: \"a/b\" }");
  EXPECT_EQ(routes_->Find("GET", "/v1/shelves/s/deep/a/b").miss,
            RouteMatch::kNoRoute);
}

TEST_F(SyntheticApiTest, ScalarQueryParameters) {
  EXPECT_EQ(Query("big=-9007199254740993&ubig=18446744073709551615"),
            "big: -9007199254740993 ubig: 18446744073709551615");
  EXPECT_EQ(Query("ratio=0.25&smallRatio=1.5"), "ratio: 0.25 small_ratio: 1.5");
  EXPECT_EQ(Query("ratio=NaN"), "ratio: nan");
  EXPECT_EQ(Query("ratio=-Infinity"), "ratio: -inf");
  EXPECT_EQ(Query("raw=aGk%3D"), "raw: \"hi\"");
  EXPECT_EQ(Query("raw=_-8"), "raw: \"\\377\\357\"");
  EXPECT_EQ(Query("uid=7"), "uid: 7");
  EXPECT_EQ(Query("note=a+b%2Bc%26d%3De"), "note: \"a b+c&d=e\"");
  EXPECT_EQ(Query("note="), "");
  EXPECT_EQ(Query("note"), "");
  EXPECT_EQ(Query("renamed=x"), "custom_json: \"x\"");
  EXPECT_EQ(Query("custom_json=x"), "custom_json: \"x\"");
}

TEST_F(SyntheticApiTest, RepeatedAndEnumQueryParameters) {
  EXPECT_EQ(Query("kinds=KIND_A&kinds=2&kinds=KIND_A"),
            "kinds: KIND_A kinds: KIND_B kinds: KIND_A");
  EXPECT_EQ(Query("flags=true&flags=false"), "flags: true flags: false");
  EXPECT_EQ(Query("days=2022-05-01&days=2023-01-31"),
            "days { year: 2022 month: 5 day: 1 } days { year: 2023 month: 1 "
            "day: 31 }");
}

TEST_F(SyntheticApiTest, MessageQueryParametersInTheirJsonForms) {
  EXPECT_EQ(Query("when_time=2022-05-01T10:00:00Z"),
            "when_time { seconds: 1651399200 }");
  EXPECT_EQ(Query("whenTime=2022-05-01T12:00:00.5%2B02:00"),
            "when_time { seconds: 1651399200 nanos: 500000000 }");
  EXPECT_EQ(Query("wait=1.5s"), "wait { seconds: 1 nanos: 500000000 }");
  EXPECT_EQ(
      Query("update_mask=displayName,thing.display_name,%20note"),
      "update_mask { paths: \"display_name\" paths: \"thing.display_name\" "
      "paths: \"note\" }");
  EXPECT_EQ(Query("updateMask="), "update_mask { }");
  EXPECT_EQ(Query("day=2022"), "day { year: 2022 }");
  EXPECT_EQ(Query("day=2022-05"), "day { year: 2022 month: 5 }");
  EXPECT_EQ(Query("day.year=2022&day.month=5"), "day { year: 2022 month: 5 }");
  EXPECT_EQ(Query("limit=5"), "limit { value: 5 }");
  EXPECT_EQ(Query("thing.name=t&thing.displayName=T"),
            "thing { name: \"t\" display_name: \"T\" }");
}

TEST_F(SyntheticApiTest, BadQueryParametersAreNamed) {
  EXPECT_THAT(QueryError("big=1e3"), ElementsAre("big"));
  EXPECT_THAT(QueryError("big=99999999999999999999"), ElementsAre("big"));
  EXPECT_THAT(QueryError("ubig=-1"), ElementsAre("ubig"));
  EXPECT_THAT(QueryError("uid=4294967296"), ElementsAre("uid"));
  EXPECT_THAT(QueryError("ratio=half"), ElementsAre("ratio"));
  EXPECT_THAT(QueryError("raw=%%%"), ElementsAre("raw"));
  EXPECT_THAT(QueryError("kinds=KIND_C"), ElementsAre("kinds"));
  EXPECT_THAT(QueryError("kinds=7"), ElementsAre("kinds"));
  EXPECT_THAT(QueryError("flags=1"), ElementsAre("flags"));
  EXPECT_THAT(QueryError("when_time=yesterday"), ElementsAre("when_time"));
  EXPECT_THAT(QueryError("wait=soon"), ElementsAre("wait"));
  EXPECT_THAT(QueryError("day=05/01/2022"), ElementsAre("day"));
  EXPECT_THAT(QueryError("day=2022-5-1"), ElementsAre("day"));
  EXPECT_THAT(QueryError("limit=x"), ElementsAre("limit"));
  EXPECT_THAT(QueryError("thing=x"), ElementsAre("thing"));
  EXPECT_THAT(QueryError("counts=1"), ElementsAre("counts"));
  EXPECT_THAT(QueryError("counts.key=1"), ElementsAre("counts.key"));
  EXPECT_THAT(QueryError("note.x=1"), ElementsAre("note.x"));
  EXPECT_THAT(QueryError("thing.nope=1"), ElementsAre("thing.nope"));
  EXPECT_THAT(QueryError("=1"), ElementsAre(""));
  EXPECT_THAT(QueryError("note=%C3%28"), ElementsAre("note"));
  EXPECT_THAT(QueryError("parent=shelves/t"), ElementsAre("parent"));
}

TEST_F(SyntheticApiTest, ScalarBodyIsWrapped) {
  EXPECT_EQ(*Text("PUT", "/v1/shelves/s/note", "big=3", "\"hello\""),
            "parent: \"shelves/s\" big: 3 note: \"hello\"");
  // Not one JSON value: it may not set other fields.
  auto text = Text("PUT", "/v1/shelves/s/note", "", R"("x", "big": "5")");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  text = Text("PUT", "/v1/shelves/s/note", "", "5");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  // The query may not set the body's field.
  text = Text("PUT", "/v1/shelves/s/note", "note=x", "\"y\"");
  EXPECT_THAT(Violations(text.status()), ElementsAre("note"));
}

TEST_F(SyntheticApiTest, ResponseJsonMatchesProtobufsPrinter) {
  // Every kind of field, printed by the transcoder and by protobuf's own
  // binary-to-JSON converter: the same JSON.
  const pb::Descriptor* type =
      api_->pool().FindMessageTypeByName("cstopa.test.v1.Req");
  ASSERT_NE(type, nullptr);
  std::unique_ptr<pb::Message> m(api_->factory()->GetPrototype(type)->New());
  ASSERT_TRUE(pb::TextFormat::ParseFromString(
      R"pb(
        parent: "shelves/s\"q\\\n\t\x01 \xd0\xba"
        big: -9007199254740993
        ubig: 18446744073709551615
        ratio: 0.1
        small_ratio: 3.4028235e38
        raw: "\x00\xff\xfe bytes"
        when_time { seconds: -62135596800 nanos: 1000 }
        wait { seconds: -3 nanos: -500000000 }
        update_mask { paths: "display_name" paths: "thing.display_name" }
        day { year: 2022 month: 5 day: 1 }
        kinds: KIND_A
        kinds: KIND_B
        flags: true
        flags: false
        limit { value: 0 }
        thing { name: "t" }
        days { year: 1 }
        days {}
        counts { key: "k\"" value: -7 }
        uid: 4294967295
      )pb",
      m.get()));
  const pb::Reflection* r = m->GetReflection();
  r->AddEnumValue(m.get(), type->FindFieldByName("kinds"), 42);  // unknown
  Transcoder t(api_);
  auto json = t.ResponseJson(*type, m->SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  std::string expected;
  ASSERT_TRUE(
      pb::util::BinaryToJsonString(api_->type_resolver(),
                                   "type.googleapis.com/cstopa.test.v1.Req",
                                   m->SerializeAsString(), &expected)
          .ok());
  EXPECT_EQ(*json, expected);

  for (const char* text :
       {"ratio: nan", "ratio: inf", "small_ratio: -inf", "ratio: 1e-300",
        "ratio: 123456789012345680000",
        "when_time { seconds: 1651363200 nanos: 120000000 }",
        "when_time { seconds: 253402300799 nanos: 999999999 }",
        "wait { seconds: 1 }", "wait { nanos: 1 }", ""}) {
    m->Clear();
    ASSERT_TRUE(pb::TextFormat::ParseFromString(text, m.get())) << text;
    json = t.ResponseJson(*type, m->SerializeAsString());
    ASSERT_TRUE(json.ok()) << text << ": " << json.status();
    expected.clear();
    ASSERT_TRUE(
        pb::util::BinaryToJsonString(api_->type_resolver(),
                                     "type.googleapis.com/cstopa.test.v1.Req",
                                     m->SerializeAsString(), &expected)
            .ok());
    EXPECT_EQ(*json, expected) << text;
  }
  // A timestamp out of RFC 3339's range is not JSON.
  m->Clear();
  ASSERT_TRUE(pb::TextFormat::ParseFromString(
      "when_time { seconds: 253402300800 }", m.get()));
  EXPECT_EQ(t.ResponseJson(*type, m->SerializeAsString()).status().code(),
            absl::StatusCode::kInternal);
}

// ---------------------------------------------------------------------------
// Hostile input never crashes.

TEST_F(TranscoderTest, HostileInputs) {
  Transcoder t(api_);
  std::string long_path = "/v1/states/";
  long_path.append(1 << 20, 'a');
  RouteMatch m = routes_->Find("GET", long_path);
  EXPECT_EQ(MethodOf(m), "GetState");
  std::string many_segments = "/v1";
  for (int i = 0; i < 100000; ++i) many_segments.append("/x");
  EXPECT_EQ(routes_->Find("GET", many_segments).miss, RouteMatch::kNoRoute);
  std::string colons(10000, ':');
  EXPECT_EQ(routes_->Find("GET", "/v1/" + colons).miss, RouteMatch::kNoRoute);
  EXPECT_EQ(routes_->Find("GET", "/v1/states/" + colons).miss,
            RouteMatch::kMatched);
  for (std::string path :
       {std::string("/v1/states/%"), std::string("/v1/states/%zz"),
        std::string("/v1/states/%00"), std::string("/v1/states/a\0b", 13),
        std::string("/v1/states/%FF%FE"), std::string("/v1/states/kz%2"),
        std::string("/v1/%73tates/kz"), std::string("\0", 1),
        std::string("/v1/states/:"), std::string("/v1/states/kz:"),
        std::string("/v1/:undelete"), std::string("/v1/states/kz/profile:x")}) {
    RouteMatch m = routes_->Find("GET", path);
    if (m.miss == RouteMatch::kMatched) {
      // The request may fail (not UTF-8) but must not crash.
      auto bytes = t.RequestBytes(m, "", "");
      if (!bytes.ok()) {
        EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
      }
    }
  }
  m = routes_->Find("GET", "/v1/states/%FF%FE");
  ASSERT_EQ(m.miss, RouteMatch::kMatched);
  absl::Status s = t.RequestBytes(m, "", "").status();
  EXPECT_THAT(Violations(s), ElementsAre("name"));

  m = routes_->Find("POST", "/v1/documents/d:undelete");
  ASSERT_EQ(m.miss, RouteMatch::kMatched);
  for (std::string body :
       {std::string("{\"etag\": \"\xC0\xAF\"}"),
        std::string("{\"etag\": \"a\0b\"}", 15), std::string("\0", 1),
        std::string("{\"etag\": \"\\ud800\"}"), std::string(100000, '['),
        std::string(100000, '{'), std::string("{\"etag\": \"\\u0000\"}"),
        std::string("{\"etag\": 1e999999}"),
        std::string("{\"etag\":\"") + std::string(1 << 20, 'x') + "\"}"}) {
    auto bytes = t.RequestBytes(m, "", body);
    (void)bytes;
  }
  EXPECT_EQ(t.RequestBytes(m, "", std::string("{\"etag\": \"\xC0\xAF\"}"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  for (std::string query :
       {std::string("%"), std::string("a=%"), std::string("%zz=1"),
        std::string("etag=%00"), std::string("\0=\0", 3), std::string("&&&=&="),
        std::string(100000, '&'), std::string("as_of.as_of.as_of=1")}) {
    RouteMatch get = routes_->Find("GET", "/v1/states");
    auto bytes = t.RequestBytes(get, query, "");
    (void)bytes;
  }
  RouteMatch none;
  EXPECT_FALSE(t.RequestBytes(none, "", "").ok());
}

TEST(HttpStatusOf, Aip193) {
  const int expected[] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                          400, 409, 400, 501, 500, 503, 500, 401};
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(Transcoder::HttpStatusOf(code), expected[code]) << code;
  }
  EXPECT_EQ(Transcoder::HttpStatusOf(-1), 500);
  EXPECT_EQ(Transcoder::HttpStatusOf(17), 500);
}

}  // namespace
}  // namespace cstopa::gateway::http
