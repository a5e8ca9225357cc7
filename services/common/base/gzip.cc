#include "services/common/base/gzip.h"

#include <utility>

namespace cstopa::common {

GzipStream::GzipStream(int level) {
  ok_ = deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
        Z_OK;
}

GzipStream::~GzipStream() {
  if (ok_) deflateEnd(&z_);
}

bool GzipStream::Write(absl::string_view in, bool finish) {
  if (!ok_) return false;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  const int flush = finish ? Z_FINISH : Z_NO_FLUSH;
  for (;;) {
    char buffer[16 << 10];
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = sizeof(buffer);
    const int rc = deflate(&z_, flush);
    if (rc == Z_STREAM_ERROR) return ok_ = false;
    out_.append(buffer, sizeof(buffer) - z_.avail_out);
    if (finish ? rc == Z_STREAM_END : z_.avail_in == 0 && z_.avail_out != 0)
      return true;
  }
}

std::optional<std::string> Gzip(absl::string_view in, int level) {
  GzipStream gzip(level);
  if (!gzip.Write(in, /*finish=*/true)) return std::nullopt;
  return std::move(gzip.output());
}

Gunzipper::Gunzipper() { ok_ = inflateInit2(&z_, 15 + 16) == Z_OK; }

Gunzipper::~Gunzipper() {
  if (ok_) inflateEnd(&z_);
}

bool Gunzipper::Feed(absl::string_view in,
                     const std::function<void(absl::string_view)>& out) {
  if (!ok_) return false;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_.avail_in = static_cast<uInt>(in.size());
  while (z_.avail_in > 0 && !ended_) {
    char buffer[64 << 10];
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = sizeof(buffer);
    const int rc = inflate(&z_, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return false;
    out(absl::string_view(buffer, sizeof(buffer) - z_.avail_out));
    if (rc == Z_STREAM_END) ended_ = true;
    if (rc == Z_BUF_ERROR) break;
  }
  return true;
}

bool LooksGzipped(absl::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::optional<std::string> Gunzip(absl::string_view in) {
  Gunzipper gunzip;
  std::string out;
  if (!gunzip.Feed(in,
                   [&out](absl::string_view text) {
                     out.append(text.data(), text.size());
                   }) ||
      !gunzip.ended())
    return std::nullopt;
  return out;
}

}  // namespace cstopa::common
