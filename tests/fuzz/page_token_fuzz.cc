// libFuzzer target for PageTokenCodec::Decode, the parser of the one opaque
// string clients hand back to us: any input must be rejected with
// INVALID_ARGUMENT or decode to a cursor that re-encodes to the same token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/query/paging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* const kCodec =
      new cstopa::common::PageTokenCodec("fuzz-secret");
  const absl::string_view token(reinterpret_cast<const char*>(data), size);
  const auto cursor = kCodec->Decode(token, "fingerprint");
  if (cursor.ok()) {
    if (kCodec->Encode(*cursor, "fingerprint") != token) std::abort();
  } else if (cursor.status().code() != absl::StatusCode::kInvalidArgument) {
    std::abort();
  }
  // Round trip of a cursor built from the input must always decode.
  cstopa::common::PageCursor built;
  built.last_values.emplace_back(std::string(token.substr(0, 64)));
  built.last_values.emplace_back(static_cast<int64_t>(size));
  built.last_name = std::string(token.substr(0, 32));
  const auto again = kCodec->Decode(kCodec->Encode(built, "other"), "other");
  if (!again.ok() || *again != built) std::abort();
  return 0;
}
