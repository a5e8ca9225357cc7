// libFuzzer target for the gateway's splicing of backend answers
// (gateway/view_bytes.h), on StateSummary's fields copied under other
// numbers of the same message (the gateway's own protos are not in the
// sanitizer build), and on SourceCodeInfo.Location's packed repeated
// integers and proto2 strings: whatever the bytes, an answer it takes
// leaves a view that parses, with every name inside the answer; an answer
// it refuses leaves the view as it was; and it takes every answer protobuf
// parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cstopa/membership/v1/membership.pb.h"
#include "gateway/view_bytes.h"
#include "google/protobuf/descriptor.pb.h"

namespace {

using cstopa::membership::v1::StateSummary;

const cstopa::gateway::Splice& Swapping() {
  static const cstopa::gateway::Splice* const splice =
      new cstopa::gateway::Splice(StateSummary::descriptor(),
                                  StateSummary::descriptor(),
                                  {{"state", "state"},
                                   {"parliaments", "parliaments"},
                                   {"roles", "not_known_roles"},
                                   {"not_known_roles", "roles"},
                                   {"as_of_date", "as_of_date"}});
  return *splice;
}

const cstopa::gateway::Splice& Packed() {
  using google::protobuf::SourceCodeInfo;
  static const cstopa::gateway::Splice* const splice =
      new cstopa::gateway::Splice(SourceCodeInfo::Location::descriptor(),
                                  SourceCodeInfo::Location::descriptor(),
                                  {{"path", "span"},
                                   {"span", "path"},
                                   {"leading_comments", "trailing_comments"}});
  return *splice;
}

// The properties above for one splice of `answer` after `prefix` (a view's
// own bytes) into a view of type View; `also(parsed, spliced)` checks more
// when the answer parses.
template <typename View, typename Also>
void CheckSplice(const cstopa::gateway::Splice& splice,
                 const std::string& answer, const std::string& prefix,
                 Also also) {
  std::string view = prefix;
  std::vector<absl::string_view> names;
  const bool taken = splice.AppendTo(answer, &view, &names);
  View parsed;
  const bool parses = parsed.ParseFromString(answer);
  if (!taken) {
    if (view != prefix || !names.empty() || parses) std::abort();
    return;
  }
  View spliced;
  if (!spliced.ParseFromString(view)) std::abort();
  for (absl::string_view name : names) {
    if (name.data() < answer.data() ||
        name.data() + name.size() > answer.data() + answer.size())
      std::abort();
  }
  if (parses) also(parsed, spliced);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string answer(reinterpret_cast<const char*>(data), size);
  CheckSplice<StateSummary>(
      Swapping(), answer, "\x2a\x02\x08\x01",  // as_of_date { year: 1 }
      [](const StateSummary& parsed, const StateSummary& spliced) {
        // What a parser makes of the answer, swapped, is what the view holds.
        if (spliced.roles_size() != parsed.not_known_roles_size()) std::abort();
      });
  CheckSplice<google::protobuf::SourceCodeInfo::Location>(
      Packed(), answer, "", [](const auto&, const auto&) {});
  return 0;
}
