// The seed check: every record of the services' seed files names the seed
// document it came from and the passage of it that states the record, and
// every such passage occurs in that document.
//
// Each seed file (services/<service>/seed/<service>_seed.textpb) is parsed
// as its seed message. Each element of its top-level repeated fields is a
// record; a record must carry at least one cstopa.type.v1.Provenance (at any
// depth: a record's own, or one per fact) and every Provenance in it must
//   - name in `source` a file of the seeds directory, and
//   - give in `quote` a passage found in that file: both texts are compared
//     with markup (<tags>) removed and every run of white space (line breaks
//     included) read as one space; a quote of several passages joined by
//     " ... " must find them in order.
//
// Usage (what the CTest `seed_check` runs):
//   seed_check --seeds ../shared/seeds --repo .
// It prints one line per fault (file, record, what is wrong) and exits 1
// when there is any, 0 otherwise.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "events/seed/events_seed.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "legislation/seed/legislation_seed.pb.h"
#include "membership/seed/membership_seed.pb.h"
#include "monitoring/seed/monitoring_seed.pb.h"
#include "tests/seed/quotes.h"

namespace cstopa::seed_check {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr absl::string_view kProvenance = "cstopa.type.v1.Provenance";

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

// Every Provenance in `m`, at any depth.
void CollectProvenance(const Message& m,
                       std::vector<const Message*>* out) {
  if (m.GetDescriptor()->full_name() == kProvenance) {
    out->push_back(&m);
    return;
  }
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i)
        CollectProvenance(r->GetRepeatedMessage(m, f, i), out);
    } else {
      CollectProvenance(r->GetMessage(m, f), out);
    }
  }
}

// The record's name (its `name` field), or its type and position.
std::string RecordLabel(const Message& m, const FieldDescriptor* list,
                        int index) {
  const FieldDescriptor* name = m.GetDescriptor()->FindFieldByName("name");
  if (name != nullptr && name->type() == FieldDescriptor::TYPE_STRING &&
      !name->is_repeated()) {
    std::string n = m.GetReflection()->GetString(m, name);
    if (!n.empty()) return n;
  }
  return absl::StrCat(list->name(), "[", index, "]");
}

class Checker {
 public:
  explicit Checker(std::string seeds_dir) : seeds_dir_(std::move(seeds_dir)) {}

  // Checks one seed file; returns its records' count.
  int CheckFile(const std::string& path, Message* seed) {
    std::string text;
    if (!ReadFile(path, &text)) {
      Fault(path, "", "cannot be read");
      return 0;
    }
    if (!google::protobuf::TextFormat::ParseFromString(text, seed)) {
      Fault(path, "", "does not parse as its seed message");
      return 0;
    }
    int records = 0;
    const Reflection* r = seed->GetReflection();
    std::vector<const FieldDescriptor*> lists;
    r->ListFields(*seed, &lists);
    for (const FieldDescriptor* list : lists) {
      if (!list->is_repeated() ||
          list->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE)
        continue;
      for (int i = 0; i < r->FieldSize(*seed, list); ++i) {
        const Message& record = r->GetRepeatedMessage(*seed, list, i);
        ++records;
        CheckRecord(path, RecordLabel(record, list, i), record);
      }
    }
    return records;
  }

  int faults() const { return faults_; }
  int quotes() const { return quotes_; }

 private:
  void CheckRecord(const std::string& path, const std::string& label,
                   const Message& record) {
    std::vector<const Message*> provenance;
    CollectProvenance(record, &provenance);
    if (provenance.empty()) {
      Fault(path, label, "has no provenance");
      return;
    }
    for (const Message* p : provenance) {
      const auto& prov = static_cast<const cstopa::type::v1::Provenance&>(*p);
      if (prov.source().empty()) {
        Fault(path, label, "has a provenance without a source");
        continue;
      }
      const std::string* source = Source(prov.source());
      if (source == nullptr) {
        Fault(path, label,
              absl::StrCat("names source ", prov.source(),
                           ", not a file of ", seeds_dir_));
        continue;
      }
      if (prov.quote().empty()) {
        Fault(path, label,
              absl::StrCat("has no quote from ", prov.source()));
        continue;
      }
      ++quotes_;
      std::string missing;
      if (!QuoteOccurs(*source, prov.quote(), &missing)) {
        Fault(path, label,
              absl::StrCat("quotes a passage not in ", prov.source(), ": \"",
                           missing, "\""));
      }
    }
  }

  // The normalized text of seed file `name`; null when there is none.
  const std::string* Source(const std::string& name) {
    auto it = sources_.find(name);
    if (it != sources_.end()) return it->second.get();
    std::unique_ptr<std::string> text;
    std::string raw;
    if (name.find('/') == std::string::npos &&
        ReadFile(absl::StrCat(seeds_dir_, "/", name), &raw))
      text = std::make_unique<std::string>(NormalizeForQuotes(raw));
    const std::string* out = text.get();
    sources_.emplace(name, std::move(text));
    return out;
  }

  void Fault(const std::string& path, const std::string& label,
             const std::string& what) {
    ++faults_;
    std::cout << path << (label.empty() ? "" : ": ") << label << ": " << what
              << "\n";
  }

  std::string seeds_dir_;
  std::map<std::string, std::unique_ptr<std::string>> sources_;
  int faults_ = 0;
  int quotes_ = 0;
};

int Main(int argc, char** argv) {
  std::string seeds, repo = ".";
  for (int i = 1; i + 1 < argc; i += 2) {
    const absl::string_view flag = argv[i];
    if (flag == "--seeds") {
      seeds = argv[i + 1];
    } else if (flag == "--repo") {
      repo = argv[i + 1];
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (seeds.empty() || argc % 2 == 0) {
    std::cerr << "usage: seed_check --seeds DIR [--repo DIR]\n";
    return 2;
  }
  Checker checker(seeds);
  int records = 0;
  cstopa::membership::seed::MembershipSeed membership;
  cstopa::legislation::seed::LegislationSeed legislation;
  cstopa::events::seed::EventsSeed events;
  cstopa::monitoring::seed::MonitoringSeed monitoring;
  const std::vector<std::pair<std::string, Message*>> files = {
      {"membership", &membership},
      {"legislation", &legislation},
      {"events", &events},
      {"monitoring", &monitoring},
  };
  for (const auto& [service, seed] : files) {
    records += checker.CheckFile(
        absl::StrCat(repo, "/services/", service, "/seed/", service,
                     "_seed.textpb"),
        seed);
  }
  std::cout << records << " records, " << checker.quotes() << " quotes, "
            << checker.faults() << " faults\n";
  return checker.faults() == 0 && records > 0 ? 0 : 1;
}

}  // namespace
}  // namespace cstopa::seed_check

int main(int argc, char** argv) {
  return cstopa::seed_check::Main(argc, argv);
}
