// Bytes as the gateway's HTTP front door moves them: gRPC byte buffers to
// and from strings, and gzip, whole or a piece at a time.
//
//   GzipStream gzip(6);
//   gzip.Write(line, /*finish=*/false);    // ...as lines come
//   gzip.Write("", /*finish=*/true);
//   Send(std::move(gzip.output()));
#ifndef CSTOPA_GATEWAY_HTTP_WIRE_H_
#define CSTOPA_GATEWAY_HTTP_WIRE_H_

#include <zlib.h>

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/byte_buffer.h"

namespace cstopa::gateway::http {

// The bytes of `buffer` ("" if they cannot be read).
std::string ToString(const grpc::ByteBuffer& buffer);
// A buffer holding `bytes`.
grpc::ByteBuffer ToBuffer(const std::string& bytes);

// A gzip stream (RFC 1952) written a piece at a time, at compression
// `level` (1-9).
class GzipStream {
 public:
  explicit GzipStream(int level);
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses `in` or, with `finish`, `in` and the end of the stream,
  // appending what zlib gives to output(). False when zlib fails.
  bool Write(absl::string_view in, bool finish);
  // The compressed bytes not yet taken (move them out, then clear()).
  std::string& output() { return out_; }

 private:
  z_stream z_{};
  bool ok_ = false;
  std::string out_;
};

// `in` gzip'd at `level`, or nullopt when zlib fails.
std::optional<std::string> Gzip(absl::string_view in, int level);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_WIRE_H_
