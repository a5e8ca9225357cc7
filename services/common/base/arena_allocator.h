// A gRPC message allocator that puts each call's request and response on one
// protobuf Arena, freed in one go when the call ends.
//
// A List response holds hundreds of small objects (resources, their strings
// and nested messages); allocating them on an arena instead of one by one
// through malloc removes most of a handler's allocator work.
//
//   class MyService : public v1::MyService::CallbackService {
//     ArenaMessageAllocator<v1::ListThingsRequest, v1::ListThingsResponse>
//         list_things_allocator_;
//    public:
//     MyService() { SetMessageAllocatorFor_ListThings(&list_things_allocator_);
//     }
//   };
#ifndef CSTOPA_SERVICES_COMMON_BASE_ARENA_ALLOCATOR_H_
#define CSTOPA_SERVICES_COMMON_BASE_ARENA_ALLOCATOR_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace cstopa::common {

template <typename Request, typename Response>
class ArenaMessageAllocator final
    : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder();
  }

 private:
  static google::protobuf::ArenaOptions Options() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 4096;
    options.max_block_size = 64 * 1024;
    return options;
  }

  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(
          google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(
          google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_ARENA_ALLOCATOR_H_
