// Calls of membership_server that several integration tests make
// (membership_integration_test on SQLite, postgres_integration_test on
// PostgreSQL replicas): each with Prepare's deadline and, for writes, a key.
//
//   v1::Person out;
//   grpc::Status s = CreatePerson(stub.get(), "p-1", NewPerson("Ann"), &out);
//   EXPECT_THAT(AllPersonNames(stub.get()), Contains("persons/p-1"));
#ifndef CSTOPA_TESTS_INTEGRATION_MEMBERSHIP_CALLS_H_
#define CSTOPA_TESTS_INTEGRATION_MEMBERSHIP_CALLS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/server_process.h"

namespace cstopa::itest {

// A person with an English display name.
inline membership::v1::Person NewPerson(absl::string_view english_name) {
  membership::v1::Person p;
  auto* text = p.add_display_name();
  text->set_language_code("en");
  text->set_text(std::string(english_name));
  return p;
}

inline grpc::Status CreatePerson(membership::v1::MembershipService::Stub* stub,
                                 absl::string_view id,
                                 const membership::v1::Person& person,
                                 membership::v1::Person* out,
                                 absl::string_view key = kEditorKey) {
  grpc::ClientContext ctx;
  Prepare(&ctx, key);
  membership::v1::CreatePersonRequest req;
  req.set_person_id(std::string(id));
  *req.mutable_person() = person;
  return stub->CreatePerson(&ctx, req, out);
}

inline grpc::Status GetPerson(membership::v1::MembershipService::Stub* stub,
                              absl::string_view name,
                              membership::v1::Person* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  membership::v1::GetPersonRequest req;
  req.set_name(std::string(name));
  return stub->GetPerson(&ctx, req, out);
}

// Every person name, following pages (bounded); failures are test failures.
inline std::vector<std::string> AllPersonNames(
    membership::v1::MembershipService::Stub* stub, bool show_deleted = false) {
  std::vector<std::string> names;
  membership::v1::ListPersonsRequest req;
  req.set_page_size(1000);
  req.set_show_deleted(show_deleted);
  for (int page = 0; page < 100; ++page) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    membership::v1::ListPersonsResponse resp;
    grpc::Status s = stub->ListPersons(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << Describe(s);
    if (!s.ok()) break;
    for (const auto& p : resp.persons()) names.push_back(p.name());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return names;
}

// The number of states, in one page.
inline int CountStates(membership::v1::MembershipService::Stub* stub) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  membership::v1::ListStatesRequest req;
  req.set_page_size(1000);
  membership::v1::ListStatesResponse resp;
  grpc::Status s = stub->ListStates(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << Describe(s);
  EXPECT_TRUE(resp.next_page_token().empty());
  return resp.states_size();
}

}  // namespace cstopa::itest

#endif  // CSTOPA_TESTS_INTEGRATION_MEMBERSHIP_CALLS_H_
