#include "services/common/server/server.h"

#include <malloc.h>
#include <openssl/rand.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/support/server_interceptor.h"
#include "services/common/server/admin_http.h"
#include "services/common/server/batch_handler.h"
#include "services/common/server/config.h"
#include "services/common/server/grpc_binding.h"
#include "services/common/server/interceptors.h"
#include "services/common/server/metrics.h"
#include "services/common/store/resource_store.h"

namespace cstopa::common {
namespace {

// One JSON log line on stderr for lifecycle events (not per call).
void LogEvent(absl::string_view level, absl::string_view msg,
              const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string line = absl::StrCat(
      "{\"ts\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                       absl::UTCTimeZone()),
      "\",\"level\":\"", level, "\",\"msg\":\"", JsonEscape(msg), "\"");
  for (const auto& [k, v] : fields)
    absl::StrAppend(&line, ",\"", k, "\":\"", JsonEscape(v), "\"");
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// --import: the records of `def`'s service in the export file at `path`,
// loaded through its Import method's request (resources/import.h).
absl::Status ImportAtStart(const ServiceDefinition& def,
                           ServiceInstance* instance, const std::string& path) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          def.grpc_service_name);
  const google::protobuf::Descriptor* request = nullptr;
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = service->method(i);
    if (absl::StartsWith(m->name(), "Import") && !m->client_streaming() &&
        !m->server_streaming())
      request = m->input_type();
  }
  if (request == nullptr)
    return absl::FailedPreconditionError(
        absl::StrCat(def.name, " has no Import method to load records with"));
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<std::pair<int, int>> counts =
      instance->ImportExport(*request, *text);
  if (!counts.ok()) return counts.status();
  LogEvent(
      "info", "imported",
      {{"service", def.name},
       {"file", path},
       {"created", absl::StrCat(counts->first)},
       {"skipped", absl::StrCat(counts->second)},
       {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    out << content;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return absl::InternalError(absl::StrCat("cannot rename to ", path));
  return absl::OkStatus();
}

// What one hosted service was given on the command line.
struct ServiceSettings {
  std::string store, seed, import_file;
  std::map<std::string, std::string> extra;  // the service's own flags
};

struct Settings {
  std::string listen, admin_listen, api_keys_file, page_token_secret, port_file,
      access_log, tls_cert_file, tls_key_file, tls_client_ca_file;
  int64_t drain_seconds = 10, lame_duck_seconds = 0, max_message_bytes = 0,
          max_concurrent_streams = 0, read_cache_mb = 0;
  std::vector<ServiceSettings> services;  // in the order of the definitions
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(c));
  return s;
}

absl::StatusOr<Settings> ParseFlags(
    int argc, char** argv, const std::string& program,
    const std::vector<ServiceDefinition>& defs) {
  std::vector<std::string> names;
  for (const ServiceDefinition& d : defs) names.push_back(d.grpc_service_name);
  FlagSet flags(program, absl::StrCat("Serves ", absl::StrJoin(names, ", "),
                                      " over gRPC."));
  const ServiceDefinition& first = defs.front();
  flags.Add("listen", "CSTOPA_LISTEN",
            absl::StrCat("127.0.0.1:", first.default_port),
            "gRPC listen address host:port (port 0 picks a free port)");
  flags.Add("admin_listen", "CSTOPA_ADMIN_LISTEN",
            absl::StrCat("127.0.0.1:", first.default_admin_port),
            "HTTP address for /metrics and /healthz; empty disables it");
  // One service: --store and --seed. Several: --<name>_store, ...
  const bool several = defs.size() > 1;
  auto flag_of = [&](const ServiceDefinition& d, const std::string& flag) {
    return several ? absl::StrCat(d.name, "_", flag) : flag;
  };
  auto env_of = [&](const ServiceDefinition& d, const std::string& flag) {
    return several ? absl::StrCat("CSTOPA_", Upper(d.name), "_", Upper(flag))
                   : absl::StrCat("CSTOPA_", Upper(flag));
  };
  for (const ServiceDefinition& d : defs) {
    if (d.schema.service.empty()) continue;  // no store
    flags.Add(flag_of(d, "store"), env_of(d, "store"),
              absl::StrCat("sqlite://", d.name, ".db"),
              absl::StrCat(several ? d.name + " " : "",
                           "store URL: sqlite:///abs/path.db, "
                           "sqlite://rel/path.db, sqlite::memory: or "
                           "postgresql://user@host:port/db?pool_size=N"));
    flags.Add(flag_of(d, "seed"), env_of(d, "seed"), "builtin",
              absl::StrCat(several ? d.name + " " : "",
                           "seed data to load at start: `builtin`, `none`, "
                           "or a file path"));
    flags.Add(flag_of(d, "import"), env_of(d, "import"), "",
              absl::StrCat(several ? d.name + " " : "",
                           "an export file (cstopa export; JSON Lines, "
                           "gzip'd or not) whose records of this service to "
                           "load at start, after the seed, as its Import "
                           "method would: all or none, records already "
                           "stored skipped (so every later start changes "
                           "nothing). With --seed=none: another assembly"));
  }
  flags.Add("api_keys_file", "CSTOPA_API_KEYS_FILE", "",
            "key file (lines `sha256:<hex> editor|admin label`, see "
            "cstopa_keyhash); without it every write is refused");
  flags.Add("page_token_secret", "CSTOPA_PAGE_TOKEN_SECRET", "",
            "secret that signs page tokens; set the same value on every "
            "replica. Empty: a random one, so tokens die with the process");
  flags.Add("port_file", "CSTOPA_PORT_FILE", "",
            "after start, write {\"grpc_port\":N,\"admin_port\":M} here");
  flags.Add("access_log", "CSTOPA_ACCESS_LOG", "stderr",
            "where the JSON access log goes: stderr, stdout, off, or a path");
  flags.Add("drain_seconds", "CSTOPA_DRAIN_SECONDS", "10",
            "on SIGTERM, how long in-flight calls may take to finish");
  flags.Add("lame_duck_seconds", "CSTOPA_LAME_DUCK_SECONDS", "0",
            "on SIGTERM, how long to keep serving while health already says "
            "NOT_SERVING, so that load balancers move away before the "
            "server stops accepting calls");
  flags.Add("max_message_bytes", "CSTOPA_MAX_MESSAGE_BYTES", "4194304",
            "largest request or response message");
  flags.Add("max_concurrent_streams", "CSTOPA_MAX_CONCURRENT_STREAMS", "200",
            "concurrent calls per client connection");
  flags.Add("read_cache_mb", "CSTOPA_READ_CACHE_MB", "64",
            "MiB of recent Get and List answers kept per store until a write "
            "commits (another replica's: once the change feed sees it); 0 "
            "turns the cache off");
  flags.Add("tls_cert_file", "CSTOPA_TLS_CERT_FILE", "",
            "PEM certificate chain; with --tls_key_file enables TLS");
  flags.Add("tls_key_file", "CSTOPA_TLS_KEY_FILE", "", "PEM private key");
  flags.Add("tls_client_ca_file", "CSTOPA_TLS_CLIENT_CA_FILE", "",
            "PEM CA bundle; when set, clients must present a certificate "
            "signed by it (mutual TLS)");
  for (const ServiceDefinition& d : defs) {
    for (const ServiceFlag& f : d.extra_flags)
      flags.Add(f.name, f.env, f.default_value, f.help);
  }
  if (auto s = flags.Parse(argc, argv); !s.ok()) return s;

  Settings st;
  for (const ServiceDefinition& d : defs) {
    ServiceSettings ss;
    if (!d.schema.service.empty()) {
      ss.store = flags.Get(flag_of(d, "store"));
      ss.seed = flags.Get(flag_of(d, "seed"));
      ss.import_file = flags.Get(flag_of(d, "import"));
    }
    for (const ServiceFlag& f : d.extra_flags) {
      std::string value = flags.Get(f.name);
      if (f.validate) {
        if (absl::Status s = f.validate(value); !s.ok())
          return absl::InvalidArgumentError(
              absl::StrCat("--", f.name, " ", s.message()));
      }
      ss.extra[f.name] = std::move(value);
    }
    st.services.push_back(std::move(ss));
  }
  st.listen = flags.Get("listen");
  st.admin_listen = flags.Get("admin_listen");
  st.api_keys_file = flags.Get("api_keys_file");
  st.page_token_secret = flags.Get("page_token_secret");
  st.port_file = flags.Get("port_file");
  st.access_log = flags.Get("access_log");
  st.tls_cert_file = flags.Get("tls_cert_file");
  st.tls_key_file = flags.Get("tls_key_file");
  st.tls_client_ca_file = flags.Get("tls_client_ca_file");
  for (const char* name :
       {"drain_seconds", "lame_duck_seconds", "max_message_bytes",
        "max_concurrent_streams", "read_cache_mb"}) {
    auto v = flags.GetInt(name);
    if (!v.ok()) return v.status();
    if (*v < 0)
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " must not be negative"));
  }
  st.drain_seconds = *flags.GetInt("drain_seconds");
  st.lame_duck_seconds = *flags.GetInt("lame_duck_seconds");
  st.max_message_bytes = *flags.GetInt("max_message_bytes");
  st.max_concurrent_streams = *flags.GetInt("max_concurrent_streams");
  st.read_cache_mb = *flags.GetInt("read_cache_mb");
  if (st.read_cache_mb > 65536)
    return absl::InvalidArgumentError("--read_cache_mb must be at most 65536");
  if (st.max_concurrent_streams < 1)
    return absl::InvalidArgumentError(
        "--max_concurrent_streams must be at least 1");
  if (st.max_message_bytes < 1024 || st.max_message_bytes > (1 << 30))
    return absl::InvalidArgumentError(
        "--max_message_bytes must be between 1024 and 1073741824");
  if (auto s = ValidateListenAddress("listen", st.listen); !s.ok()) return s;
  if (!st.admin_listen.empty()) {
    if (auto s = ValidateListenAddress("admin_listen", st.admin_listen);
        !s.ok())
      return s;
  }
  if (st.tls_cert_file.empty() != st.tls_key_file.empty())
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together");
  if (!st.tls_client_ca_file.empty() && st.tls_cert_file.empty())
    return absl::InvalidArgumentError(
        "--tls_client_ca_file needs --tls_cert_file and --tls_key_file");
  if (st.access_log.empty())
    return absl::InvalidArgumentError(
        "--access_log must be stderr, stdout, off or a file path");
  return st;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const Settings& st) {
  if (st.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(st.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(st.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  if (!st.tls_client_ca_file.empty()) {
    auto ca = ReadFile(st.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    opts.pem_root_certs = *ca;
    opts.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(opts);
}

// Counts the calls the server has open (every call, any service), so that a
// drain can end as soon as none is left.
class OpenCalls : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // The calls of the methods `telemetry` leaves to the binding are counted
  // there (Open and Close), not by an interceptor.
  explicit OpenCalls(const TelemetryInterceptorFactory* telemetry)
      : telemetry_(telemetry) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (telemetry_->ServedInBinding(info->method())) return nullptr;
    return new Counted(this);
  }

  void Open() {
    absl::MutexLock lock(&mu_);
    ++open_;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    --open_;
  }

  // Waits until no call is open or `deadline` passes; true when none is.
  bool WaitIdle(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithDeadline(absl::Condition(
                                     +[](int* n) { return *n == 0; }, &open_),
                                 deadline);
  }

 private:
  class Counted : public grpc::experimental::Interceptor {
   public:
    explicit Counted(OpenCalls* owner) : owner_(owner) {
      absl::MutexLock lock(&owner_->mu_);
      ++owner_->open_;
    }
    ~Counted() override {
      absl::MutexLock lock(&owner_->mu_);
      --owner_->open_;
    }
    void Intercept(
        grpc::experimental::InterceptorBatchMethods* methods) override {
      methods->Proceed();
    }

   private:
    OpenCalls* owner_;
  };

  const TelemetryInterceptorFactory* const telemetry_;
  absl::Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// What the binding reports of the services' own calls: the telemetry, and
// the count of open calls (both done by interceptors for every other call).
class BindingObserver : public CallObserver {
 public:
  BindingObserver(TelemetryInterceptorFactory* telemetry, OpenCalls* open)
      : telemetry_(telemetry), open_(open) {}
  CallIds Begin(const std::multimap<grpc::string_ref, grpc::string_ref>&
                    metadata) override {
    open_->Open();
    return telemetry_->Begin(metadata);
  }
  void End(const char* method, const CallIds& ids, std::string peer, int code,
           absl::string_view message, double seconds) override {
    telemetry_->End(method, ids, std::move(peer), code, message, seconds);
  }
  void Closed() override { open_->Close(); }

 private:
  TelemetryInterceptorFactory* const telemetry_;
  OpenCalls* const open_;
};

// One hosted service while it runs.
struct Hosted {
  const ServiceDefinition* def;
  std::unique_ptr<Database> db;  // null without a store
  std::unique_ptr<ServiceInstance> instance;
};

// glibc gives the top of a heap back to the kernel as soon as 128 kB of it is
// free, and a served list page or a PostgreSQL answer is tens of kilobytes
// allocated on one thread and freed on another: under load most of them
// came from fresh pages (page faults, madvise, malloc_consolidate; a fifth
// of the server's time in a PostgreSQL ListEvents profile). Keeping 16 MB
// of headroom per heap and trimming only past 64 MB makes them reuse memory
// (ListEvents on PostgreSQL: 8.2k -> 10.8k calls/s on two cores). An
// operator's GLIBC_TUNABLES wins.
void KeepFreedMemory() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  mallopt(M_TOP_PAD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunService(int argc, char** argv, const ServiceDefinition& def) {
  return RunServices(argc, argv, absl::StrCat(def.name, "_server"), {def});
}

int RunServices(int argc, char** argv, const std::string& program,
                const std::vector<ServiceDefinition>& defs) {
  // Signals are taken by sigwait below; block them before any thread starts
  // so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Lock-order cycle detection costs a graph update on every lock; tests
  // and sanitizer builds keep it, the served binary does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  KeepFreedMemory();

  if (defs.empty()) {
    std::cerr << program << ": no service to run\n";
    return 2;
  }
  auto settings = ParseFlags(argc, argv, program, defs);
  if (!settings.ok()) {
    if (settings.status().code() == absl::StatusCode::kCancelled) {
      std::cout << settings.status().message();
      return 0;
    }
    std::cerr << program << ": " << settings.status().message() << "\n";
    return 2;
  }
  const Settings& st = *settings;
  std::string names;
  for (const ServiceDefinition& d : defs)
    absl::StrAppend(&names, names.empty() ? "" : ",", d.name);
  auto fail = [&](absl::string_view what, const absl::Status& s) {
    LogEvent("error", absl::StrCat(what, ": ", s.message()),
             {{"service", names}});
    return 1;
  };

  ApiKeyStore keys;
  if (!st.api_keys_file.empty()) {
    auto loaded = ApiKeyStore::LoadFile(st.api_keys_file);
    if (!loaded.ok()) return fail("--api_keys_file", loaded.status());
    keys = std::move(*loaded);
  } else {
    LogEvent("warning",
             "no --api_keys_file: reads work, every write is refused", {});
  }

  std::string secret = st.page_token_secret;
  if (secret.empty()) {
    unsigned char buf[32];
    if (RAND_bytes(buf, sizeof(buf)) != 1)
      return fail("page token secret", absl::InternalError("RAND_bytes"));
    secret.assign(reinterpret_cast<char*>(buf), sizeof(buf));
    LogEvent("warning",
             "no --page_token_secret: page tokens will not survive a restart "
             "or work across replicas",
             {});
  }
  PageTokenCodec tokens(secret);

  // Each service: its store, its instance, its seed.
  std::vector<Hosted> hosted;
  for (size_t i = 0; i < defs.size(); ++i) {
    const ServiceDefinition& def = defs[i];
    const ServiceSettings& ss = st.services[i];
    Hosted h{&def, nullptr, nullptr};
    if (!def.schema.service.empty()) {
      auto db = OpenDatabase(ss.store, def.schema);
      if (!db.ok()) return fail(absl::StrCat("store ", ss.store), db.status());
      h.db = std::move(*db);
      ReadCacheOptions cache;
      cache.max_bytes = static_cast<size_t>(st.read_cache_mb) << 20;
      h.db->read_cache().set_options(cache);
    }
    ServiceContext ctx{h.db.get(), &tokens, &keys, ss.extra};
    auto service = def.create(ctx);
    if (!service.ok()) return fail(def.name, service.status());
    h.instance = std::move(*service);
    // Before the seed: on a new store this finds nothing to rebuild, and the
    // seed's records are indexed as they are written.
    if (auto s = h.instance->Prepare(); !s.ok())
      return fail(absl::StrCat(def.name, " prepare"), s);
    if (h.db != nullptr && ss.seed != "none") {
      std::string text = def.builtin_seed;
      if (ss.seed != "builtin") {
        auto file = ReadFile(ss.seed);
        if (!file.ok()) return fail("--seed", file.status());
        text = *file;
      }
      if (auto s = h.instance->LoadSeed(text); !s.ok())
        return fail(absl::StrCat(def.name, " seed"), s);
    }
    if (h.db != nullptr && !ss.import_file.empty()) {
      if (auto s = ImportAtStart(def, h.instance.get(), ss.import_file);
          !s.ok())
        return fail(absl::StrCat(def.name, " --import ", ss.import_file), s);
    }
    hosted.push_back(std::move(h));
  }
  auto stores_ok = [&] {
    for (const Hosted& h : hosted) {
      if (h.db != nullptr && !h.db->Ping().ok()) return false;
    }
    return true;
  };

  FILE* log_out = nullptr;
  bool close_log = false;
  if (st.access_log == "stderr") {
    log_out = stderr;
  } else if (st.access_log == "stdout") {
    log_out = stdout;
  } else if (st.access_log != "off") {
    log_out = std::fopen(st.access_log.c_str(), "a");
    if (log_out == nullptr)
      return fail("--access_log", absl::InvalidArgumentError(absl::StrCat(
                                      "cannot open ", st.access_log)));
    close_log = true;
  }
  Metrics metrics(names);
  // Written by a thread of its own; closed below once the server has stopped.
  AccessLog access_log(log_out);
  metrics.SetAccessLogDroppedLines(
      [&access_log] { return access_log.dropped_lines(); });

  auto creds = Credentials(st);
  if (!creds.ok()) return fail("TLS", creds.status());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(st.listen, *creds, &port);
  for (Hosted& h : hosted) builder.RegisterService(h.instance->grpc_service());
  // BatchService: the hosted services' reads, several in one call.
  BatchHandler batch;
  // Room for the results' framing and any error messages.
  batch.set_max_answer_bytes(
      st.max_message_bytes -
      std::min<int64_t>(64 << 10, st.max_message_bytes / 4));
  for (Hosted& h : hosted) {
    auto* bound = dynamic_cast<GrpcServiceBase*>(h.instance->grpc_service());
    if (bound != nullptr && h.instance->local_service() != nullptr)
      batch.AddService(h.instance->local_service(), bound->method_paths());
  }
  std::unique_ptr<grpc::Service> batch_service;
  if (!batch.empty()) {
    batch_service = batch::v1::NewBatchServiceGrpc(&batch);
    builder.RegisterService(batch_service.get());
  }
  builder.SetMaxReceiveMessageSize(static_cast<int>(st.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(st.max_message_bytes));
  SetMaxResponseBytes(st.max_message_bytes);  // List pages stay under it
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(st.max_concurrent_streams));
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      creators;
  auto telemetry = std::make_unique<TelemetryInterceptorFactory>(
      names, &metrics, &access_log);
  OpenCalls* open_calls =
      new OpenCalls(telemetry.get());  // owned by the server
  // The services' own methods are observed inside their reactors (no
  // interceptor: the two cost a third of a small call's time); health,
  // reflection and unknown methods through the interceptors. Lives as long
  // as the server's calls (destroyed after the server below).
  auto binding_observer =
      std::make_unique<BindingObserver>(telemetry.get(), open_calls);
  std::vector<grpc::Service*> bound_services;
  for (Hosted& h : hosted) bound_services.push_back(h.instance->grpc_service());
  if (batch_service != nullptr) bound_services.push_back(batch_service.get());
  for (grpc::Service* service : bound_services) {
    if (auto* bound = dynamic_cast<GrpcServiceBase*>(service)) {
      bound->set_observer(binding_observer.get());
      for (const std::string& path : bound->method_paths())
        telemetry->ServeInBinding(path);
    }
  }
  batch.set_observer(binding_observer.get());
  creators.push_back(std::move(telemetry));
  creators.emplace_back(open_calls);
  builder.experimental().SetInterceptorCreators(std::move(creators));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return fail("gRPC", absl::UnavailableError(
                            absl::StrCat("cannot listen on ", st.listen,
                                         " (address in use or not local?)")));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  // Health is SERVING while the stores answer, and NOT_SERVING for good
  // once draining starts; one mutex orders the watcher's and the signal's
  // updates.
  absl::Mutex health_mu;
  bool serving = true, draining = false;
  auto set_health = [&](bool ok, bool drain) {
    absl::MutexLock lock(&health_mu);
    if (draining) return;
    draining = drain;
    serving = ok && !drain;
    for (const Hosted& h : hosted)
      health->SetServingStatus(h.def->grpc_service_name, serving);
    health->SetServingStatus(serving);
  };
  auto is_serving = [&] {
    absl::MutexLock lock(&health_mu);
    return serving;
  };
  set_health(stores_ok(), false);

  std::unique_ptr<AdminHttpServer> admin;
  if (!st.admin_listen.empty()) {
    std::map<std::string, AdminHttpServer::Handler> routes;
    routes["/metrics"] = [&] {
      AdminHttpServer::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      for (const Hosted& h : hosted) {
        if (h.db == nullptr) continue;
        for (const StoreGauge& g : h.db->Gauges())
          metrics.SetGauge(g.name, g.help, g.value);
      }
      r.body = metrics.RenderPrometheus();
      for (const Hosted& h : hosted) r.body += h.instance->MetricsText();
      return r;
    };
    routes["/healthz"] = [&] {
      AdminHttpServer::Response r;
      const bool ok = is_serving();
      r.status = ok ? 200 : 503;
      r.body = ok ? "SERVING\n" : "NOT_SERVING\n";
      return r;
    };
    auto started = AdminHttpServer::Start(st.admin_listen, std::move(routes));
    if (!started.ok()) return fail("--admin_listen", started.status());
    admin = std::move(*started);
  }

  // What services serve beside gRPC (the gateway's HTTP), now that gRPC is
  // up; their ports go into the log line and the port file.
  std::map<std::string, int> extra_ports;
  for (Hosted& h : hosted) {
    auto ports = h.instance->StartServing({&access_log});
    if (!ports.ok()) {
      for (Hosted& started : hosted)
        started.instance->StopServing(absl::ZeroDuration());
      server->Shutdown(absl::ToChronoTime(absl::Now()));
      return fail(h.def->name, ports.status());
    }
    extra_ports.insert(ports->begin(), ports->end());
  }

  std::string host = st.listen.substr(0, st.listen.rfind(':'));
  std::string dialects, services;
  for (const Hosted& h : hosted) {
    absl::StrAppend(&services, services.empty() ? "" : ",",
                    h.def->grpc_service_name);
    absl::StrAppend(&dialects, dialects.empty() ? "" : ",",
                    h.db ? h.db->dialect() : "none");
  }
  std::vector<std::pair<std::string, std::string>> serving_fields = {
      {"service", names},
      {"grpc_service", services},
      {"address", absl::StrCat(host, ":", port)},
      {"admin_port", admin ? std::to_string(admin->port()) : ""},
      {"store", dialects},
      {"api_keys", std::to_string(keys.size())}};
  std::string extra_port_json;
  for (const auto& [name, value] : extra_ports) {
    serving_fields.emplace_back(name, std::to_string(value));
    absl::StrAppend(&extra_port_json, ",\"", name, "\":", value);
  }
  LogEvent("info", "serving", serving_fields);
  if (!st.port_file.empty()) {
    auto s = WriteFileAtomically(
        st.port_file,
        absl::StrCat("{\"grpc_port\":", port, ",\"admin_port\":",
                     admin ? admin->port() : 0, extra_port_json, "}\n"));
    if (!s.ok()) return fail("--port_file", s);
  }

  // Watch the stores: NOT_SERVING while one does not answer.
  absl::Notification stop_watch;
  std::thread watcher([&] {
    bool was_ok = is_serving();
    while (!stop_watch.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      bool ok = stores_ok();
      if (ok != was_ok) {
        LogEvent(ok ? "info" : "error",
                 ok ? "store reachable again" : "store unreachable",
                 {{"service", names}});
        set_health(ok, false);  // no effect once draining
        was_ok = ok;
      }
    }
  });

  int sig = 0;
  sigwait(&signals, &sig);
  LogEvent("info", "draining",
           {{"service", names},
            {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
            {"deadline_seconds", std::to_string(st.drain_seconds)}});
  set_health(false, /*drain=*/true);
  if (st.lame_duck_seconds > 0) {
    absl::SleepFor(absl::Seconds(st.lame_duck_seconds));
  }
  // Long-lived streams end now (with a status that tells clients to
  // resume elsewhere); unary calls in flight get the drain deadline.
  for (Hosted& h : hosted) h.instance->BeginDrain();
  const absl::Time drain_deadline =
      absl::Now() + absl::Seconds(st.drain_seconds);
  // What serves beside gRPC stops taking requests and finishes those in
  // flight first: they may be waiting on this very gRPC server.
  for (Hosted& h : hosted)
    h.instance->StopServing(
        std::max(absl::ZeroDuration(), drain_deadline - absl::Now()));
  // Shutdown stops taking calls and returns once every connection is gone,
  // which an idle client can put off until the deadline. So whenever no
  // call is open the remaining connections are closed, again every 100 ms
  // until Shutdown returns: a connection still being set up when the drain
  // began joins the server's list only later, and would otherwise hold the
  // stop for gRPC's 20 s goodbye timeout.
  absl::Notification shut_down;
  std::thread shutdown([&] {
    server->Shutdown(absl::ToChronoTime(drain_deadline));
    shut_down.Notify();
  });
  while (!shut_down.HasBeenNotified() && absl::Now() < drain_deadline) {
    if (open_calls->WaitIdle(
            std::min(drain_deadline, absl::Now() + absl::Milliseconds(100))))
      grpc_server_cancel_all_calls(server->c_server());
    shut_down.WaitForNotificationWithTimeout(absl::Milliseconds(100));
  }
  shutdown.join();
  server->Wait();
  stop_watch.Notify();
  watcher.join();
  if (admin) admin->Shutdown();
  // Every call has ended: write the access log's last lines before its file
  // closes.
  access_log.Close();
  if (close_log) std::fclose(log_out);
  LogEvent("info", "stopped", {{"service", names}});
  return 0;
}

}  // namespace cstopa::common
