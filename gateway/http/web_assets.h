// The public web pages (the folder web/ at the repository root), embedded
// into the gateway at build time, and which URL paths they answer.
//
// cmake/embed_web.py turns every file under web/ into a row of a table
// compiled into the binary (gateway_web_assets): its URL path, content type
// by extension, bytes and a strong ETag (a SHA-256 prefix of the bytes).
// Nothing is read from disk at run time; a changed or added file is in the
// next build (the files are globbed with CONFIGURE_DEPENDS).
//
// The pages are a single-page app: its URLs (`/states/kz`, `/search`) are
// not files, so a path without a file extension is answered with
// `/index.html` (shared links and the back button work), a path with one
// only by its file. Paths of the HTTP/JSON API are never pages (IsApiPath).
//
//   if (!IsApiPath(path)) {
//     if (const WebAsset* a = ResolveWebPath(path)) {
//       // 200: a->content_type, a->etag, a->bytes
//     } else {
//       // 404: "/nope.js"
//     }
//   }
#ifndef CSTOPA_GATEWAY_HTTP_WEB_ASSETS_H_
#define CSTOPA_GATEWAY_HTTP_WEB_ASSETS_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cstopa::gateway::http {

// One embedded file.
struct WebAsset {
  absl::string_view path;          // "/pages/home.js"
  absl::string_view content_type;  // "text/javascript; charset=utf-8"
  absl::string_view bytes;
  absl::string_view etag;  // quoted: "\"3f2a...\""
};

// Every embedded file, sorted by path.
absl::Span<const WebAsset> WebAssets();

// The file at `path` exactly ("/app.js"), or null.
const WebAsset* FindWebAsset(absl::string_view path);

// Whether the last segment of `path` has a file extension: a dot followed
// by 1 to 10 letters and digits, at least one a letter ("/app.js",
// "/favicon.ico"; not "/states/kz", "/acts/act.2024" or "/a.").
bool HasFileExtension(absl::string_view path);

// Whether `path` belongs to the HTTP/JSON API rather than the pages: under
// a version (`/v1`, `/v1/...`, any `/v<digits>`), or the generic
// `/<package.Service>/<Method>` (a first segment with a dot and more
// segments after it).
bool IsApiPath(absl::string_view path);

// What a GET of `path` (not an API path, still percent-encoded, without
// the query) is answered with: the file at `path`; else, for a path
// without a file extension, `/index.html`; else (or with no index.html
// embedded) null, a 404.
const WebAsset* ResolveWebPath(absl::string_view path);

// Whether the content type is text (worth compressing).
bool IsTextType(absl::string_view content_type);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_WEB_ASSETS_H_
