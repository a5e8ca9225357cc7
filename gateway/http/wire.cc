#include "gateway/http/wire.h"

namespace cstopa::gateway::http {

std::string ToString(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  if (!buffer.DumpToSingleSlice(&slice).ok()) return "";
  return std::string(reinterpret_cast<const char*>(slice.begin()),
                     slice.size());
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

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

}  // namespace cstopa::gateway::http
