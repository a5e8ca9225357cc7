// What handler tests of every service share: API keys for an editor and an
// admin, callers carrying them, and readers of an error's details.
//
//   ApiKeyStore keys = TestApiKeys();
//   absl::Status s = membership.CreateState(EditorCaller(), request, &state);
//   EXPECT_THAT(FieldsOf(s), ElementsAre("state.display_name"));
//   EXPECT_EQ(ReasonOf(s), "UNKNOWN_REFERENCE");
#ifndef CSTOPA_SERVICES_COMMON_TESTING_HANDLER_TEST_KIT_H_
#define CSTOPA_SERVICES_COMMON_TESTING_HANDLER_TEST_KIT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "services/common/api/auth.h"
#include "services/common/api/call.h"
#include "services/common/base/errors.h"

namespace cstopa::common::testing {

inline constexpr char kEditorKey[] = "editor-secret";
inline constexpr char kAdminKey[] = "admin-secret";

// A key store granting kEditorKey the editor role and kAdminKey the admin
// role.
inline ApiKeyStore TestApiKeys() {
  auto keys = ApiKeyStore::Parse(HashApiKey(kEditorKey) +
                                 " editor test-editor\n" +
                                 HashApiKey(kAdminKey) + " admin test-admin\n");
  return keys.ok() ? *std::move(keys) : ApiKeyStore();
}

inline Caller CallerWithKey(const std::string& key) {
  Caller c;
  c.authorization = "Bearer " + key;
  return c;
}
inline Caller EditorCaller() { return CallerWithKey(kEditorKey); }
inline Caller AdminCaller() { return CallerWithKey(kAdminKey); }

// The fields of the BadRequest attached to `s`, in order.
inline std::vector<std::string> FieldsOf(const absl::Status& s) {
  std::vector<std::string> out;
  if (auto bad = GetBadRequest(s)) {
    for (const auto& v : bad->field_violations()) out.push_back(v.field());
  }
  return out;
}

// The ErrorInfo reason attached to `s`, or "".
inline std::string ReasonOf(const absl::Status& s) {
  auto info = GetErrorInfo(s);
  return info ? info->reason() : "";
}

}  // namespace cstopa::common::testing

#endif  // CSTOPA_SERVICES_COMMON_TESTING_HANDLER_TEST_KIT_H_
