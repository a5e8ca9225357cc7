#include "services/common/query/paging.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <variant>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

// Token layout: [version][fingerprint prefix][payload][mac].
constexpr uint8_t kTokenVersion = 1;
constexpr size_t kFingerprintPrefixSize = 8;
constexpr size_t kMacSize = 16;
// A payload is at least a value count and a name length (one byte each).
constexpr size_t kMinPayloadSize = 2;
constexpr size_t kMinTokenBytes =
    1 + kFingerprintPrefixSize + kMinPayloadSize + kMacSize;

// Type tags of cursor values in the payload.
constexpr uint8_t kTagNull = 0;
constexpr uint8_t kTagInt = 1;
constexpr uint8_t kTagDouble = 2;
constexpr uint8_t kTagString = 3;

using Sha256Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest.data());
  return digest;
}

absl::string_view AsView(const Sha256Digest& digest, size_t n) {
  return absl::string_view(reinterpret_cast<const char*>(digest.data()), n);
}

// HMAC-SHA256(secret, version || prefix || SHA-256(fingerprint) || payload),
// truncated to kMacSize bytes.
std::string ComputeMac(absl::string_view secret, uint8_t version,
                       absl::string_view prefix,
                       const Sha256Digest& fingerprint_hash,
                       absl::string_view payload) {
  std::string data;
  data.reserve(1 + prefix.size() + fingerprint_hash.size() + payload.size());
  data.push_back(static_cast<char>(version));
  data.append(prefix.data(), prefix.size());
  data.append(reinterpret_cast<const char*>(fingerprint_hash.data()),
              fingerprint_hash.size());
  data.append(payload.data(), payload.size());

  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  // A zero-length key needs a valid pointer on some OpenSSL versions.
  static constexpr char kEmpty = 0;
  const unsigned char* ok =
      HMAC(EVP_sha256(), secret.empty() ? &kEmpty : secret.data(),
           static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           mac, &mac_size);
  if (ok == nullptr || mac_size < kMacSize) {
    // Only possible if libcrypto itself is broken; a token without a MAC
    // would be forgeable, so do not carry on.
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(mac), kMacSize);
}

// --- Payload encoding -------------------------------------------------------

void PutVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutBytes(absl::string_view s, std::string& out) {
  PutVarint(s.size(), out);
  out.append(s.data(), s.size());
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^
         static_cast<uint64_t>(v < 0 ? ~uint64_t{0} : uint64_t{0});
}

int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

std::string EncodePayload(const PageCursor& cursor) {
  std::string out;
  PutVarint(cursor.last_values.size(), out);
  for (const SqlValue& value : cursor.last_values) {
    if (std::holds_alternative<std::monostate>(value)) {
      out.push_back(static_cast<char>(kTagNull));
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      out.push_back(static_cast<char>(kTagInt));
      PutVarint(ZigZag(*i), out);
    } else if (const auto* d = std::get_if<double>(&value)) {
      out.push_back(static_cast<char>(kTagDouble));
      uint64_t bits;
      static_assert(sizeof(bits) == sizeof(*d));
      std::memcpy(&bits, d, sizeof(bits));
      for (int shift = 0; shift < 64; shift += 8) {
        out.push_back(static_cast<char>((bits >> shift) & 0xff));
      }
    } else {
      out.push_back(static_cast<char>(kTagString));
      PutBytes(std::get<std::string>(value), out);
    }
  }
  PutBytes(cursor.last_name, out);
  return out;
}

// Reads a payload strictly: any malformation or trailing byte fails.
class PayloadReader {
 public:
  explicit PayloadReader(absl::string_view data) : data_(data) {}

  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) return false;
      const auto byte = static_cast<uint8_t>(data_.front());
      data_.remove_prefix(1);
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && byte > 1) return false;
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  bool Byte(uint8_t& b) {
    if (data_.empty()) return false;
    b = static_cast<uint8_t>(data_.front());
    data_.remove_prefix(1);
    return true;
  }

  bool Bytes(std::string& s) {
    uint64_t size;
    if (!Varint(size) || size > data_.size()) return false;
    s.assign(data_.data(), static_cast<size_t>(size));
    data_.remove_prefix(static_cast<size_t>(size));
    return true;
  }

  bool Fixed64(uint64_t& v) {
    if (data_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[i])) << (8 * i);
    }
    data_.remove_prefix(8);
    return true;
  }

  size_t remaining() const { return data_.size(); }

 private:
  absl::string_view data_;
};

bool DecodePayload(absl::string_view payload, PageCursor& cursor) {
  PayloadReader in(payload);
  uint64_t count;
  // Every value takes at least one byte, which bounds the allocation.
  if (!in.Varint(count) || count > in.remaining()) return false;
  cursor.last_values.clear();
  cursor.last_values.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    uint8_t tag;
    if (!in.Byte(tag)) return false;
    switch (tag) {
      case kTagNull:
        cursor.last_values.emplace_back(std::monostate{});
        break;
      case kTagInt: {
        uint64_t v;
        if (!in.Varint(v)) return false;
        cursor.last_values.emplace_back(UnZigZag(v));
        break;
      }
      case kTagDouble: {
        uint64_t bits;
        if (!in.Fixed64(bits)) return false;
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        cursor.last_values.emplace_back(d);
        break;
      }
      case kTagString: {
        std::string s;
        if (!in.Bytes(s)) return false;
        cursor.last_values.emplace_back(std::move(s));
        break;
      }
      default:
        return false;
    }
  }
  if (!in.Bytes(cursor.last_name)) return false;
  return in.remaining() == 0;
}

// --- Errors -----------------------------------------------------------------

absl::Status TokenError(absl::string_view description) {
  return InvalidArgument("INVALID_PAGE_TOKEN",
                         {{"page_token", std::string(description)}});
}

constexpr absl::string_view kPassUnchanged =
    "pass next_page_token from the previous response unchanged, or start "
    "again without page_token";

absl::Status NotIssuedError(absl::string_view why) {
  return TokenError(absl::StrCat("is not a page token this service issued (",
                                 why, "); ", kPassUnchanged));
}

}  // namespace

absl::StatusOr<int32_t> NormalizePageSize(int32_t requested) {
  if (requested < 0) {
    return InvalidArgument(
        "page_size",
        absl::StrCat("must not be negative (0 means the default, ",
                     kDefaultPageSize, "; the maximum is ", kMaxPageSize, ")"));
  }
  if (requested == 0) return kDefaultPageSize;
  if (requested > kMaxPageSize) return kMaxPageSize;
  return requested;
}

PageTokenCodec::PageTokenCodec(std::string secret)
    : secret_(std::move(secret)) {}

std::string PageTokenCodec::Encode(const PageCursor& cursor,
                                   absl::string_view query_fingerprint) const {
  const Sha256Digest fingerprint_hash = Sha256(query_fingerprint);
  const absl::string_view prefix =
      AsView(fingerprint_hash, kFingerprintPrefixSize);
  const std::string payload = EncodePayload(cursor);

  std::string raw;
  raw.reserve(1 + prefix.size() + payload.size() + kMacSize);
  raw.push_back(static_cast<char>(kTokenVersion));
  raw.append(prefix.data(), prefix.size());
  raw.append(payload);
  raw.append(
      ComputeMac(secret_, kTokenVersion, prefix, fingerprint_hash, payload));
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageCursor> PageTokenCodec::Decode(
    absl::string_view token, absl::string_view query_fingerprint) const {
  if (token.size() > kMaxPageTokenLength) {
    return NotIssuedError(
        absl::StrCat("longer than ", kMaxPageTokenLength, " characters"));
  }
  std::string raw;
  // Only the canonical encoding is accepted: no padding, no stray bits in
  // the last character, nothing the decoder would skip.
  if (!absl::WebSafeBase64Unescape(token, &raw) ||
      absl::WebSafeBase64Escape(raw) != token) {
    return NotIssuedError("not URL-safe base64");
  }
  if (raw.size() < kMinTokenBytes) return NotIssuedError("too short");
  if (static_cast<uint8_t>(raw[0]) != kTokenVersion) {
    return NotIssuedError("unknown format version");
  }

  const absl::string_view body(raw);
  const absl::string_view prefix = body.substr(1, kFingerprintPrefixSize);
  const absl::string_view payload =
      body.substr(1 + kFingerprintPrefixSize,
                  body.size() - 1 - kFingerprintPrefixSize - kMacSize);
  const absl::string_view mac = body.substr(body.size() - kMacSize);

  const Sha256Digest fingerprint_hash = Sha256(query_fingerprint);
  const std::string expected =
      ComputeMac(secret_, kTokenVersion, prefix, fingerprint_hash, payload);
  if (CRYPTO_memcmp(expected.data(), mac.data(), kMacSize) != 0) {
    // The MAC covers the full fingerprint hash, so a token of another query
    // fails here too. The clear-text prefix tells the two cases apart (an
    // altered prefix reads as "another query", which is still a rejection).
    if (prefix != AsView(fingerprint_hash, kFingerprintPrefixSize)) {
      return TokenError(
          "belongs to a different query: parent, filter, order_by, "
          "show_deleted and as_of must be the same as in the request that "
          "returned it (only page_size may change); to change them, start "
          "again without page_token");
    }
    return NotIssuedError(
        "it was altered, or the service's page token secret has changed");
  }

  PageCursor cursor;
  if (!DecodePayload(payload, cursor)) {
    // Unreachable without the secret: the payload is authenticated.
    return NotIssuedError("malformed contents");
  }
  return cursor;
}

}  // namespace cstopa::common
