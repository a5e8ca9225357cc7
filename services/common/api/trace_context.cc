#include "services/common/api/trace_context.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace cstopa::common {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsAllZero(absl::string_view s) {
  return s.find_first_not_of('0') == absl::string_view::npos;
}

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

}  // namespace

std::optional<TraceContext> ParseTraceparent(absl::string_view header) {
  constexpr size_t kLength = 55;  // 2+1+32+1+16+1+2
  if (header.size() < kLength) return std::nullopt;
  absl::string_view version = header.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? header.size() != kLength
                      : header.size() > kLength && header[kLength] != '-') {
    return std::nullopt;
  }
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') {
    return std::nullopt;
  }
  absl::string_view trace_id = header.substr(3, 32);
  absl::string_view span_id = header.substr(36, 16);
  absl::string_view flags = header.substr(53, 2);
  if (!IsLowerHex(trace_id) || !IsLowerHex(span_id) || !IsLowerHex(flags) ||
      IsAllZero(trace_id) || IsAllZero(span_id)) {
    return std::nullopt;
  }
  TraceContext context;
  context.trace_id = std::string(trace_id);
  context.span_id = std::string(span_id);
  context.flags =
      static_cast<uint8_t>(HexValue(flags[0]) * 16 + HexValue(flags[1]));
  return context;
}

std::string FormatTraceparent(const TraceContext& context) {
  char flags[3] = {kHexDigits[context.flags >> 4],
                   kHexDigits[context.flags & 0xf], '\0'};
  return absl::StrCat("00-", context.trace_id, "-", context.span_id, "-",
                      flags);
}

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

TraceIds::TraceIds() {
  std::random_device device;
  std::array<std::random_device::result_type, 8> seed;
  for (auto& word : seed) word = device();
  std::seed_seq seq(seed.begin(), seed.end());
  absl::MutexLock lock(&mu_);
  rng_.seed(seq);
}

std::string TraceIds::RandomHex(size_t bytes) {
  std::string out(bytes * 2, '0');
  absl::MutexLock lock(&mu_);
  do {
    for (size_t i = 0; i < bytes; i += 8) {
      uint64_t word = rng_();
      for (size_t k = i; k < bytes && k < i + 8; ++k) {
        out[2 * k] = kHexDigits[(word >> 4) & 0xf];
        out[2 * k + 1] = kHexDigits[word & 0xf];
        word >>= 8;
      }
    }
  } while (IsAllZero(out));
  return out;
}

std::string TraceIds::NewRequestId() { return RandomHex(16); }

TraceContext TraceIds::NewSpan(const std::optional<TraceContext>& parent) {
  TraceContext span;
  if (parent.has_value()) {
    span.trace_id = parent->trace_id;
    span.flags = parent->flags;
  } else {
    span.trace_id = RandomHex(16);
  }
  do {
    span.span_id = RandomHex(8);
  } while (parent.has_value() && span.span_id == parent->span_id);
  return span;
}

}  // namespace cstopa::common
