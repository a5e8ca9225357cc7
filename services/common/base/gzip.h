// gzip (RFC 1952) both ways, whole or a piece at a time: the gateway's
// compressed answers and downloads, the `cstopa` command's reading of them,
// and a server's --import of a saved export.
//
//   GzipStream gzip(6);
//   gzip.Write(line, /*finish=*/false);    // ...as lines come
//   gzip.Write("", /*finish=*/true);
//   Send(std::move(gzip.output()));
//
//   Gunzipper gunzip;
//   gunzip.Feed(piece, [](absl::string_view text) { ... });  // as it comes
//   if (!gunzip.ended()) ...  // cut short
//
//   std::optional<std::string> text = Gunzip(file_bytes);
#ifndef CSTOPA_SERVICES_COMMON_BASE_GZIP_H_
#define CSTOPA_SERVICES_COMMON_BASE_GZIP_H_

#include <zlib.h>

#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace cstopa::common {

// A gzip stream written a piece at a time, at compression `level` (1-9).
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

// A gzip stream read a piece at a time.
class Gunzipper {
 public:
  Gunzipper();
  ~Gunzipper();
  Gunzipper(const Gunzipper&) = delete;
  Gunzipper& operator=(const Gunzipper&) = delete;

  // Inflates `in`, handing what comes out to `out`; false when `in` is not
  // gzip (or zlib could not start). Bytes after the stream's end are
  // ignored.
  bool Feed(absl::string_view in,
            const std::function<void(absl::string_view)>& out);
  // The stream's end was read (a stream without it was cut short).
  bool ended() const { return ended_; }

 private:
  z_stream z_{};
  bool ok_ = false;
  bool ended_ = false;
};

// Whether `bytes` begin as gzip does (1f 8b).
bool LooksGzipped(absl::string_view bytes);
// The whole of `in` gunzip'd; nullopt when it is not gzip or is cut short.
std::optional<std::string> Gunzip(absl::string_view in);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_GZIP_H_
