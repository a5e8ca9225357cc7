#include "cli/http_client.h"

#include <curl/curl.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace cstopa::cli {
namespace {

constexpr char kKindPayload[] = "type.cstopa.org/cli.ErrorKind";

absl::Status Marked(absl::Status status, absl::string_view kind) {
  status.SetPayload(kKindPayload, absl::Cord(kind));
  return status;
}

bool HasKind(const absl::Status& status, absl::string_view kind) {
  auto payload = status.GetPayload(kKindPayload);
  return payload.has_value() && *payload == kind;
}

absl::Status Unreachable(const std::string& gateway, absl::string_view why) {
  return Marked(absl::UnavailableError(absl::StrCat(
                    "cannot reach the gateway at ", gateway, " (", why,
                    "); is it running? start it with ./scripts/start.sh or set "
                    "--gateway")),
                "transport");
}

std::string BaseUrl(const std::string& gateway) {
  std::string base = absl::StrContains(gateway, "://")
                         ? gateway
                         : absl::StrCat("http://", gateway);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

// Set by the SIGINT/SIGTERM handler of EndStreamsOnSignals.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnStopSignal(int) { g_interrupted = 1; }

// libcurl calls it often while a transfer runs (about once a second when
// idle); non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
int OnProgress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return g_interrupted != 0 ? 1 : 0;
}

void GlobalInit() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

// What a transfer collects, and the stream's line splitter.
struct Transfer {
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  const std::function<bool(absl::string_view)>* on_line = nullptr;
  // For downloads: a 200 answer's body, piece by piece.
  const std::function<bool(absl::string_view)>* on_data = nullptr;
  // For streams: decided at the first byte of the body.
  enum { kUndecided, kLines, kBody } mode = kUndecided;
  std::string partial;  // an incomplete line
  bool stopped = false;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->on_data != nullptr) {
    if (t->mode == Transfer::kUndecided) {
      long status = 0;
      curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
      t->mode = status == 200 ? Transfer::kLines : Transfer::kBody;
    }
    if (t->mode == Transfer::kBody) {
      t->response->body.append(data, n);
      return n;
    }
    if (!(*t->on_data)(absl::string_view(data, n))) {
      t->stopped = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR)
    }
    return n;
  }
  if (t->on_line == nullptr) {
    t->response->body.append(data, n);
    return n;
  }
  if (t->mode == Transfer::kUndecided) {
    long status = 0;
    char* type = nullptr;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->curl, CURLINFO_CONTENT_TYPE, &type);
    const bool events = status == 200 && type != nullptr &&
                        absl::StartsWithIgnoreCase(type, "text/event-stream");
    t->mode = events ? Transfer::kLines : Transfer::kBody;
  }
  if (t->mode == Transfer::kBody) {
    t->response->body.append(data, n);
    return n;
  }
  t->partial.append(data, n);
  size_t start = 0;
  for (size_t nl; (nl = t->partial.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    absl::string_view line(t->partial.data() + start, nl - start);
    absl::ConsumeSuffix(&line, "\r");
    if (!(*t->on_line)(line)) {
      t->stopped = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR)
    }
  }
  t->partial.erase(0, start);
  return n;
}

// The error for a failed transfer.
absl::Status TransportError(CURL* curl, CURLcode code, const char* errbuf,
                            const ClientOptions& options, bool streaming) {
  const std::string& gateway = options.gateway;
  std::string detail = errbuf[0] != '\0'
                           ? std::string(errbuf)
                           : std::string(curl_easy_strerror(code));
  switch (code) {
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno == ECONNREFUSED) {
        return Unreachable(gateway, "connection refused");
      }
      if (os_errno != 0) {
        return Unreachable(gateway,
                           absl::AsciiStrToLower(std::strerror(os_errno)));
      }
      return Unreachable(gateway, detail);
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      return Unreachable(gateway, "cannot resolve the host name");
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connected_us = 0;
      curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected_us);
      if (connected_us == 0) {
        return Unreachable(
            gateway, absl::StrCat("no connection within ",
                                  options.connect_timeout_ms / 1000.0, " s"));
      }
      return Marked(absl::DeadlineExceededError(absl::StrCat(
                        "the gateway at ", gateway, " did not answer within ",
                        options.total_timeout_ms / 1000.0, " s")),
                    "transport");
    }
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return UsageError(
          absl::StrCat("bad gateway address \"", gateway,
                       "\" (--gateway or CSTOPA_GATEWAY): ", detail));
    default:
      return Marked(absl::UnavailableError(absl::StrCat(
                        streaming ? "the stream from the gateway at "
                                  : "the call to the gateway at ",
                        gateway, " failed (", detail, ")")),
                    "transport");
  }
}

struct HeaderList {
  curl_slist* list = nullptr;
  void Add(const std::string& header) {
    list = curl_slist_append(list, header.c_str());
  }
  ~HeaderList() { curl_slist_free_all(list); }
};

}  // namespace

bool IsTransportError(const absl::Status& status) {
  return HasKind(status, "transport");
}

absl::Status UsageError(absl::string_view message) {
  return Marked(absl::InvalidArgumentError(message), "usage");
}

bool IsUsageError(const absl::Status& status) {
  return HasKind(status, "usage");
}

HttpClient::HttpClient(ClientOptions options) : options_(std::move(options)) {
  GlobalInit();
}

std::string HttpClient::Escape(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

absl::StatusOr<HttpResponse> HttpClient::Call(absl::string_view method,
                                              absl::string_view path,
                                              absl::string_view body,
                                              bool with_key) const {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpResponse response;
  Transfer transfer;
  transfer.curl = curl;
  transfer.response = &response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string url = BaseUrl(options_.gateway) + std::string(path);
  const std::string verb(method);
  const std::string payload(body);

  HeaderList headers;
  headers.Add("Accept: application/json");
  headers.Add("Expect:");
  const bool sends_body = !payload.empty() || verb == "POST" || verb == "PATCH";
  if (sends_body) headers.Add("Content-Type: application/json");
  if (with_key && !options_.api_key.empty()) {
    headers.Add("authorization: Bearer " + options_.api_key);
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "cstopa-cli");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   options_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.total_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (verb == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
  } else if (verb != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, verb.c_str());
  }
  if (sends_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(payload.size()));
  }

  CURLcode code = curl_easy_perform(curl);
  absl::Status status;
  if (code != CURLE_OK) {
    status = TransportError(curl, code, errbuf, options_, false);
  } else {
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) response.content_type = type;
  }
  curl_easy_cleanup(curl);
  if (!status.ok()) return status;
  return response;
}

namespace {

// Runs a long GET of `url` (no total timeout; SIGINT/SIGTERM after
// EndStreamsOnSignals end it) whose body goes to `transfer`'s callbacks.
absl::StatusOr<HttpResponse> RunLongGet(const ClientOptions& options,
                                        const std::string& url,
                                        HeaderList& headers,
                                        Transfer& transfer) {
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpResponse response;
  transfer.curl = curl;
  transfer.response = &response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "cstopa-cli");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 0L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

  CURLcode code = curl_easy_perform(curl);
  absl::Status status;
  if (code == CURLE_ABORTED_BY_CALLBACK && g_interrupted != 0) {
    response.interrupted = true;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  } else if (code != CURLE_OK &&
             !(code == CURLE_WRITE_ERROR && transfer.stopped)) {
    status = TransportError(curl, code, errbuf, options, true);
  } else {
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) response.content_type = type;
  }
  curl_easy_cleanup(curl);
  if (!status.ok()) return status;
  return response;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpClient::Stream(
    absl::string_view path, absl::string_view last_event_id,
    std::function<bool(absl::string_view line)> on_line) const {
  Transfer transfer;
  transfer.on_line = &on_line;
  HeaderList headers;
  headers.Add("Accept: text/event-stream");
  if (!last_event_id.empty()) {
    headers.Add(absl::StrCat("Last-Event-ID: ", last_event_id));
  }
  return RunLongGet(options_, BaseUrl(options_.gateway) + std::string(path),
                    headers, transfer);
}

absl::StatusOr<HttpResponse> HttpClient::Download(
    absl::string_view path,
    std::function<bool(absl::string_view data)> on_data) const {
  Transfer transfer;
  transfer.on_data = &on_data;
  HeaderList headers;
  if (!options_.api_key.empty())
    headers.Add(absl::StrCat("Authorization: Bearer ", options_.api_key));
  return RunLongGet(options_, BaseUrl(options_.gateway) + std::string(path),
                    headers, transfer);
}

void EndStreamsOnSignals() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // writes to stdout go on undisturbed
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool SseParser::Line(absl::string_view line) {
  if (line.empty()) {
    bool go_on = true;
    if (has_data_) {
      last_id_ = pending_.id;
      go_on = on_event_(pending_);
    }
    pending_.data.clear();
    pending_.event.clear();
    has_data_ = false;
    return go_on;
  }
  if (line.front() == ':') return true;  // a comment (keep-alive)
  absl::string_view field = line;
  absl::string_view value;
  if (size_t colon = line.find(':'); colon != absl::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    absl::ConsumePrefix(&value, " ");
  }
  if (field == "data") {
    if (has_data_) pending_.data += '\n';
    pending_.data.append(value.data(), value.size());
    has_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == absl::string_view::npos) {
      pending_.id = std::string(value);
    }
  } else if (field == "event") {
    pending_.event = std::string(value);
  }
  return true;
}

}  // namespace cstopa::cli
