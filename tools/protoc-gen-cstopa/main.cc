// protoc-gen-cstopa: generates, for every service of a .proto file, the C++
// that stands between gRPC and a handler, so that nobody lists an RPC by hand.
//
// For `service FooService` in foo.proto it writes foo.cstopa.h and
// foo.cstopa.cc with:
//   FooServiceHandler    the interface a handler implements: one pure virtual
//                        method per RPC, `void Method(MethodCall call)`, with
//                        the RPC's comment from the proto;
//   NewFooServiceGrpc()  its gRPC face (services/common/server/
//                        grpc_binding.h): every RPC registered once;
//   FooServiceBlocking   its blocking face for tests and tools
//                        (services/common/api/blocking.h);
//   NewFooServiceLocal() its in-process face: unary RPCs called with
//                        serialized requests, no gRPC (services/common/
//                        server/local_binding.h).
//
//   protoc
//   --plugin=protoc-gen-cstopa=build/tools/protoc-gen-cstopa/protoc-gen-cstopa
//          --cstopa_out=build/gen foo.proto
//
// Unary and server-streaming RPCs are supported; others are an error.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/compiler/code_generator.h"
#include "google/protobuf/compiler/plugin.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/printer.h"
#include "google/protobuf/io/zero_copy_stream.h"

namespace cstopa::protoc_gen {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;
using google::protobuf::SourceLocation;
using google::protobuf::compiler::GeneratorContext;
using google::protobuf::io::Printer;

std::string Replace(std::string s, const std::string& from,
                    const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos;
       pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

std::string StripProto(const std::string& name) {
  return name.size() > 6 && name.substr(name.size() - 6) == ".proto"
             ? name.substr(0, name.size() - 6)
             : name;
}

std::string Namespace(const FileDescriptor& file) {
  return Replace(file.package(), ".", "::");
}

// The C++ class of a message: ::pkg::Outer_Inner.
std::string ClassName(const Descriptor& d) {
  std::string name = d.name();
  for (const Descriptor* p = d.containing_type(); p != nullptr;
       p = p->containing_type())
    name = p->name() + "_" + name;
  return "::" + Namespace(*d.file()) + "::" + name;
}

std::string Guard(const std::string& path) {
  std::string g;
  for (char c : path)
    g += std::isalnum(static_cast<unsigned char>(c))
             ? static_cast<char>(std::toupper(c))
             : '_';
  return g + "_";
}

// The leading comment of a declaration as `//` lines indented by `indent`.
std::string Comment(const SourceLocation& loc, const std::string& indent) {
  std::string text = loc.leading_comments;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  if (text.empty()) return "";
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line[0] == ' ') line.erase(0, 1);
    out += indent + (line.empty() ? "//" : "// " + line) + "\n";
    start = end + 1;
  }
  return out;
}

bool IsServerStream(const MethodDescriptor& m) {
  return m.server_streaming() && !m.client_streaming();
}

class Generator final : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const FileDescriptor* file, const std::string& parameter,
                GeneratorContext* context, std::string* error) const override {
    if (file->service_count() == 0) return true;
    for (int s = 0; s < file->service_count(); ++s) {
      const ServiceDescriptor& svc = *file->service(s);
      for (int m = 0; m < svc.method_count(); ++m) {
        const MethodDescriptor& method = *svc.method(m);
        if (method.client_streaming()) {
          *error = svc.full_name() + "." + method.name() +
                   ": client and bidirectional streams are not supported";
          return false;
        }
      }
    }
    const std::string base = StripProto(file->name());
    WriteHeader(*file, base, context);
    WriteSource(*file, base, context);
    return true;
  }

  uint64_t GetSupportedFeatures() const override {
    return FEATURE_PROTO3_OPTIONAL;  // nothing here reads fields
  }

 private:
  static void WriteHeader(const FileDescriptor& file, const std::string& base,
                          GeneratorContext* context) {
    std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> out(
        context->Open(base + ".cstopa.h"));
    Printer p(out.get(), '$');
    std::map<std::string, std::string> vars = {
        {"file", file.name()},
        {"guard", Guard(base + ".cstopa.h")},
        {"ns", Namespace(file)}};
    p.Print(vars,
            "// Generated by protoc-gen-cstopa from $file$. Do not edit.\n"
            "//\n"
            "// For each service: <Service>Handler, the interface its handler\n"
            "// implements (one method per RPC); New<Service>Grpc, its gRPC\n"
            "// face; New<Service>Local, its in-process face (serialized\n"
            "// requests, no gRPC); <Service>Blocking, its blocking face for\n"
            "// tests and tools. See tools/protoc-gen-cstopa/main.cc.\n"
            "#ifndef $guard$\n#define $guard$\n\n"
            "#include <memory>\n\n"
            "#include \"absl/functional/function_ref.h\"\n"
            "#include \"absl/status/status.h\"\n");
    std::vector<std::string> includes = {StripProto(file.name()) + ".pb.h"};
    for (int s = 0; s < file.service_count(); ++s) {
      const ServiceDescriptor& svc = *file.service(s);
      for (int m = 0; m < svc.method_count(); ++m) {
        for (const Descriptor* d :
             {svc.method(m)->input_type(), svc.method(m)->output_type()}) {
          std::string inc = StripProto(d->file()->name()) + ".pb.h";
          bool seen = false;
          for (const auto& i : includes) seen |= i == inc;
          if (!seen) includes.push_back(inc);
        }
      }
    }
    for (const auto& inc : includes) p.Print("#include \"$i$\"\n", "i", inc);
    p.Print(
        "#include \"services/common/api/blocking.h\"\n"
        "#include \"services/common/api/call.h\"\n\n"
        "namespace grpc {\nclass Service;\n}  // namespace grpc\n"
        "namespace cstopa::common {\nclass LocalService;\n}  // namespace "
        "cstopa::common\n\n");
    p.Print(vars, "namespace $ns$ {\n\n");
    for (int s = 0; s < file.service_count(); ++s) {
      const ServiceDescriptor& svc = *file.service(s);
      SourceLocation loc;
      svc.GetSourceLocation(&loc);
      std::map<std::string, std::string> sv = {{"svc", svc.name()},
                                               {"full", svc.full_name()}};
      p.Print(Comment(loc, "").c_str());
      if (!loc.leading_comments.empty()) p.Print("//\n");
      p.Print(sv,
              "// The handler of $full$: one method per RPC, each ending its\n"
              "// call (services/common/api/call.h).\n"
              "class $svc$Handler {\n public:\n");
      for (int m = 0; m < svc.method_count(); ++m) {
        const MethodDescriptor& method = *svc.method(m);
        p.Print("  using $m$Call = ::cstopa::common::$kind$<$req$, $resp$>;\n",
                "m", method.name(), "kind",
                IsServerStream(method) ? "ServerStreamCall" : "UnaryCall",
                "req", ClassName(*method.input_type()), "resp",
                ClassName(*method.output_type()));
      }
      p.Print(sv, "\n  virtual ~$svc$Handler() = default;\n");
      for (int m = 0; m < svc.method_count(); ++m) {
        const MethodDescriptor& method = *svc.method(m);
        SourceLocation mloc;
        method.GetSourceLocation(&mloc);
        p.Print("\n");
        p.Print(Comment(mloc, "  ").c_str());
        p.Print("  virtual void $m$($m$Call call) = 0;\n", "m", method.name());
      }
      p.Print("};\n\n");
      p.Print(sv,
              "// The gRPC face of `handler`, which must outlive it: every RPC "
              "of\n// $full$, decoded on one path "
              "(services/common/server/grpc_binding.h).\n"
              "std::unique_ptr<::grpc::Service> New$svc$Grpc($svc$Handler* "
              "handler);\n\n");
      p.Print(sv,
              "// The in-process face of `handler`, which must outlive it: "
              "its unary\n// RPCs called with serialized requests "
              "(services/common/server/local_binding.h).\n"
              "std::unique_ptr<::cstopa::common::LocalService> "
              "New$svc$Local(\n    $svc$Handler* handler);\n\n"
              "// New$svc$Local by the handler's type, for templates that "
              "host any\n// service (services/common/server/server.h).\n"
              "std::unique_ptr<::cstopa::common::LocalService> "
              "NewLocalFace(\n    $svc$Handler* handler);\n\n");
      p.Print(sv,
              "// The blocking face of $svc$Handler: each method calls the\n"
              "// handler and waits for its answer. For tests and tools, never "
              "on a\n// store thread.\n"
              "class $svc$Blocking {\n public:\n"
              "  explicit $svc$Blocking($svc$Handler* handler) : "
              "handler_(handler) {}\n");
      for (int m = 0; m < svc.method_count(); ++m) {
        const MethodDescriptor& method = *svc.method(m);
        std::map<std::string, std::string> mv = {
            {"svc", svc.name()},
            {"m", method.name()},
            {"req", ClassName(*method.input_type())},
            {"resp", ClassName(*method.output_type())}};
        if (IsServerStream(method)) {
          p.Print(mv,
                  "  // Reads the stream: `on_message` gets each message until "
                  "the stream\n  // ends (its status) or it returns false.\n"
                  "  absl::Status $m$(const ::cstopa::common::Caller& caller,\n"
                  "      const $req$& request,\n"
                  "      absl::FunctionRef<bool(const $resp$&)> on_message) {\n"
                  "    return ::cstopa::common::StreamBlocking(handler_, "
                  "&$svc$Handler::$m$,\n"
                  "        caller, request, on_message);\n  }\n");
        } else {
          p.Print(mv,
                  "  absl::Status $m$(const ::cstopa::common::Caller& caller,\n"
                  "      const $req$& request, $resp$* response) {\n"
                  "    return ::cstopa::common::CallBlocking(handler_, "
                  "&$svc$Handler::$m$,\n"
                  "        caller, request, response);\n  }\n");
        }
      }
      p.Print(sv, "\n private:\n  $svc$Handler* handler_;\n};\n\n");
    }
    p.Print(vars, "}  // namespace $ns$\n\n#endif  // $guard$\n");
  }

  static void WriteSource(const FileDescriptor& file, const std::string& base,
                          GeneratorContext* context) {
    std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> out(
        context->Open(base + ".cstopa.cc"));
    Printer p(out.get(), '$');
    p.Print(
        "// Generated by protoc-gen-cstopa from $file$. Do not edit.\n"
        "#include \"$base$.cstopa.h\"\n\n"
        "#include \"services/common/server/grpc_binding.h\"\n"
        "#include \"services/common/server/local_binding.h\"\n\n"
        "namespace $ns$ {\nnamespace {\n\n",
        "file", file.name(), "base", base, "ns", Namespace(file));
    for (int s = 0; s < file.service_count(); ++s) {
      const ServiceDescriptor& svc = *file.service(s);
      p.Print(
          "class $svc$Grpc final : public ::cstopa::common::GrpcServiceBase "
          "{\n public:\n  explicit $svc$Grpc($svc$Handler* handler) {\n",
          "svc", svc.name());
      for (int m = 0; m < svc.method_count(); ++m) {
        const MethodDescriptor& method = *svc.method(m);
        p.Print("    $add$(\"/$full$/$m$\", handler, &$svc$Handler::$m$);\n",
                "add", IsServerStream(method) ? "AddServerStream" : "AddUnary",
                "full", svc.full_name(), "m", method.name(), "svc", svc.name());
      }
      p.Print("  }\n};\n\n");
      p.Print(
          "class $svc$Local final : public ::cstopa::common::LocalServiceBase "
          "{\n public:\n  explicit $svc$Local($svc$Handler* handler) {\n",
          "svc", svc.name());
      for (int m = 0; m < svc.method_count(); ++m) {
        const MethodDescriptor& method = *svc.method(m);
        if (IsServerStream(method)) continue;  // over gRPC only
        p.Print("    AddUnary(\"/$full$/$m$\", handler, &$svc$Handler::$m$);\n",
                "full", svc.full_name(), "m", method.name(), "svc", svc.name());
      }
      p.Print("  }\n};\n\n");
    }
    p.Print("}  // namespace\n");
    for (int s = 0; s < file.service_count(); ++s) {
      p.Print(
          "\nstd::unique_ptr<::grpc::Service> New$svc$Grpc($svc$Handler* "
          "handler) {\n  return std::make_unique<$svc$Grpc>(handler);\n}\n",
          "svc", file.service(s)->name());
      p.Print(
          "\nstd::unique_ptr<::cstopa::common::LocalService> New$svc$Local(\n"
          "    $svc$Handler* handler) {\n"
          "  return std::make_unique<$svc$Local>(handler);\n}\n",
          "svc", file.service(s)->name());
      p.Print(
          "\nstd::unique_ptr<::cstopa::common::LocalService> NewLocalFace(\n"
          "    $svc$Handler* handler) {\n"
          "  return New$svc$Local(handler);\n}\n",
          "svc", file.service(s)->name());
    }
    p.Print("\n}  // namespace $ns$\n", "ns", Namespace(file));
  }
};

}  // namespace
}  // namespace cstopa::protoc_gen

int main(int argc, char* argv[]) {
  cstopa::protoc_gen::Generator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
