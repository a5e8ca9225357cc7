// Page sizes and page tokens for List methods (AIP-158).
//
// Lists are paged by key ("keyset" paging): a page token records the sort
// keys of the last row returned, and the next page starts strictly after
// them. Tokens are opaque to clients and tamper-evident: each carries an
// HMAC keyed by a server secret and bound to the query it belongs to, so a
// client can neither forge a position nor reuse a token with a different
// filter or order.
//
//   PageTokenCodec codec(secret);  // once, at startup
//
//   // In a List handler:
//   auto page_size = NormalizePageSize(request.page_size());
//   if (!page_size.ok()) return page_size.status();
//   std::string fingerprint = ...;  // collection, parent, filter, order_by...
//   PageCursor after;
//   if (!request.page_token().empty()) {
//     auto cursor = codec.Decode(request.page_token(), fingerprint);
//     if (!cursor.ok()) return cursor.status();
//     after = *std::move(cursor);
//   }
//   ... read *page_size + 1 rows after `after` ...
//   if (more) response.set_next_page_token(codec.Encode(last, fingerprint));
#ifndef CSTOPA_SERVICES_COMMON_QUERY_PAGING_H_
#define CSTOPA_SERVICES_COMMON_QUERY_PAGING_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/base/sql_value.h"

namespace cstopa::common {

// The page size used when a request leaves page_size at 0.
inline constexpr int32_t kDefaultPageSize = 50;
// Larger requested page sizes are silently lowered to this (AIP-158).
inline constexpr int32_t kMaxPageSize = 1000;
// Decode rejects longer tokens without looking at them.
inline constexpr size_t kMaxPageTokenLength = 4096;

// The page size to use for a request's `page_size`: 0 gives
// kDefaultPageSize, values above kMaxPageSize give kMaxPageSize, and a
// negative value is INVALID_ARGUMENT on "page_size".
absl::StatusOr<int32_t> NormalizePageSize(int32_t requested);

// The keys of the last row of a page: the values of the order_by columns,
// in order, then the row's resource name (the final tie-breaker).
struct PageCursor {
  SqlValues last_values;
  std::string last_name;

  friend bool operator==(const PageCursor& a, const PageCursor& b) {
    return a.last_values == b.last_values && a.last_name == b.last_name;
  }
  friend bool operator!=(const PageCursor& a, const PageCursor& b) {
    return !(a == b);
  }
};

// Turns cursors into page tokens and back.
//
// A token is URL-safe base64 (no padding) of
//   [version][8 bytes of SHA-256(fingerprint)][payload][16-byte MAC]
// where the MAC is HMAC-SHA256(secret) over the version, the fingerprint
// prefix, the full SHA-256 of the fingerprint and the payload, truncated.
// The fingerprint prefix only lets Decode tell "token of another query" from
// "forged or damaged token" in its error message; the MAC is what binds the
// token to the query.
//
// Tokens stay valid as long as the secret does (they do not expire). Encode
// does not limit the size of a cursor, but Decode rejects tokens longer than
// kMaxPageTokenLength, so order only by columns with small values (a cursor
// of about 3 KB of keys is the limit).
//
// Thread-safe: Encode and Decode are const and share no mutable state.
class PageTokenCodec {
 public:
  // `secret` keys the HMAC. Use at least 32 random bytes; every replica that
  // may see a token must use the same secret, and changing it invalidates
  // every outstanding token. An empty secret works but makes tokens
  // forgeable, so configuration should refuse one.
  explicit PageTokenCodec(std::string secret);

  PageTokenCodec(const PageTokenCodec&) = default;
  PageTokenCodec& operator=(const PageTokenCodec&) = default;

  // The token for resuming after `cursor`. `query_fingerprint` is a
  // canonical string of everything the query depends on (collection,
  // parent, filter, order_by, show_deleted, as_of, ...); the caller builds
  // it, and must build it the same way for the request that presents the
  // token. Page size is deliberately not part of it (AIP-158 allows changing
  // page_size between pages).
  std::string Encode(const PageCursor& cursor,
                     absl::string_view query_fingerprint) const;

  // The cursor in `token`, or INVALID_ARGUMENT with a field violation on
  // "page_token" and ErrorInfo reason "INVALID_PAGE_TOKEN" if the token is
  // malformed, was not issued with this secret, was altered, or belongs to a
  // query with a different fingerprint. Callers treat an empty page_token as
  // "first page" and do not pass it here (Decode("") is an error).
  absl::StatusOr<PageCursor> Decode(absl::string_view token,
                                    absl::string_view query_fingerprint) const;

 private:
  std::string secret_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_QUERY_PAGING_H_
