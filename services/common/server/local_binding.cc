#include "services/common/server/local_binding.h"

#include "services/common/api/language.h"
#include "services/common/server/request_decoding.h"

namespace cstopa::common::local_binding_internal {

void LocalUnaryState::Finish(absl::Status status) {
  std::string bytes;
  if (status.ok()) {
    google::protobuf::Message* message = response();
    if (!caller_.accept_language.empty())
      PreferLanguages(ParseAcceptLanguage(caller_.accept_language), message);
    bytes = message->SerializeAsString();
  }
  LocalService::Done done = std::move(done_);
  delete this;
  done(std::move(status), std::move(bytes));
}

void LocalUnaryState::FinishSerialized(std::string bytes) {
  // With a preferred language the answer is decoded to reorder its texts,
  // as the gRPC face does.
  if (!caller_.accept_language.empty())
    PreferLanguagesSerialized(ParseAcceptLanguage(caller_.accept_language),
                              response(), &bytes);
  LocalService::Done done = std::move(done_);
  delete this;
  done(absl::OkStatus(), std::move(bytes));
}

absl::Status Undecodable(absl::string_view bytes,
                         const google::protobuf::Message& type) {
  return UndecodableRequest(bytes, *type.GetDescriptor());
}

}  // namespace cstopa::common::local_binding_internal
