// legislation_bench_data: fills a legislation store with generated documents
// for the benchmark, and writes the requests the load generator sends.
//
//   legislation_bench_data --store=sqlite:///tmp/leg.db
//       --documents=100000 --requests_dir=/tmp/leg
//
// Applies the migrations, then inserts --documents documents (IDs
// bench-doc-000000, ...; already present ones are left alone, so it can run
// twice) through the resource library in transactions of 5,000, and writes
//   DIR/GetDocument.bin      a GetDocumentRequest for a document in the middle
//   DIR/SearchDocuments.bin  a SearchDocumentsRequest for "cybersecurity law",
//                            page_size 10
// (serialized protobuf). Titles, summaries and texts mix English and Russian
// words; "cybersecurity" is in the text of every 97th document and "law" in
// the title of every other one, so the query matches about 0.5% of them
// (about 515 of 100,000), and each word alone a larger share.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "services/common/api/auth.h"
#include "services/common/query/paging.h"
#include "services/common/store/sql.h"
#include "services/legislation/legislation_resources.h"

namespace {

namespace v1 = cstopa::legislation::v1;

constexpr const char* kEnglish[] = {
    "security",      "defence",       "cooperation",    "agreement",
    "border",        "migration",     "terrorism",      "extremism",
    "corruption",    "emergency",     "military",       "transport",
    "cargo",         "peacekeeping",  "forces",         "information",
    "protection",    "personnel",     "assistance",     "legislation",
    "harmonization", "approximation", "national",       "collective",
    "member",        "states",        "parliament",     "assembly",
    "commission",    "standing",      "recommendation", "procedure",
    "regulation",    "framework",     "trafficking",    "narcotic",
    "weapons",       "organized",     "crime",          "humanitarian",
    "social",        "officers",      "families",       "training",
    "exercise",      "airspace",      "flights",        "equipment",
    "property",      "control",       "monitoring",     "elections",
    "observers",     "statement",     "appeal",         "decision",
    "international", "treaty",        "ratification",   "jurisdiction",
    "deployment",    "formations",    "status",         "amendment",
    "principles"};
constexpr const char* kRussian[] = {
    "безопасность", "оборона",        "сотрудничество", "соглашение",
    "граница",      "миграция",       "терроризм",      "экстремизм",
    "коррупция",    "чрезвычайный",   "военный",        "транспорт",
    "груз",         "миротворчество", "силы",           "информация",
    "защита",       "персонал",       "помощь",         "законодательство",
    "гармонизация", "сближение",      "национальный",   "коллективный",
    "государство",  "парламент",      "ассамблея",      "комиссия",
    "рекомендация", "порядок",        "регулирование",  "основы",
    "торговля",     "оружие",         "преступность",   "гуманитарный",
    "социальный",   "учения",         "оборудование",   "имущество",
    "контроль",     "выборы",         "наблюдатели",    "заявление",
    "обращение",    "решение",        "международный",  "договор",
    "ратификация",  "юрисдикция",     "размещение",     "формирования"};
constexpr int kEnglishCount = sizeof(kEnglish) / sizeof(kEnglish[0]);
constexpr int kRussianCount = sizeof(kRussian) / sizeof(kRussian[0]);

// A small deterministic generator (so runs are comparable).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed * 6364136223846793005ULL + 1) {}
  uint32_t Next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state_ >> 33);
  }
  // Skewed towards small values, so some words are common, others rare.
  int Skewed(int n) {
    uint32_t a = Next() % n, b = Next() % n;
    return static_cast<int>(a < b ? a : b);
  }

 private:
  uint64_t state_;
};

std::string Words(Random& r, int count, bool russian) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (!out.empty()) out += ' ';
    out += russian ? kRussian[r.Skewed(kRussianCount)]
                   : kEnglish[r.Skewed(kEnglishCount)];
  }
  return out;
}

void AddText(
    google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>* out,
    const char* lang, std::string text) {
  auto* t = out->Add();
  t->set_language_code(lang);
  t->set_text(std::move(text));
}

v1::Document MakeDocument(int64_t i) {
  Random r(static_cast<uint64_t>(i) + 17);
  v1::Document d;
  d.set_name(absl::StrFormat("documents/bench-doc-%06d", i));
  static constexpr v1::DocumentKind kKinds[] = {
      v1::DOCUMENT_KIND_MODEL_LAW, v1::DOCUMENT_KIND_RECOMMENDATION,
      v1::DOCUMENT_KIND_STATEMENT, v1::DOCUMENT_KIND_DECISION,
      v1::DOCUMENT_KIND_MODEL_ACT};
  d.set_kind(kKinds[i % 5]);
  std::string title = absl::StrCat("Model ", i % 2 == 0 ? "law on " : "act on ",
                                   Words(r, 4, false));
  AddText(d.mutable_title(), "en", title);
  AddText(d.mutable_title(), "ru",
          absl::StrCat("Модельный закон ", Words(r, 4, true)));
  AddText(d.mutable_summary(), "en", Words(r, 14, false));
  std::string text = Words(r, 40, false);
  if (i % 97 == 0) text += " cybersecurity";
  AddText(d.mutable_text(), "en", text);
  AddText(d.mutable_text(), "ru", Words(r, 30, true));
  d.add_topics(i % 3 == 0 ? "topics/cybersecurity" : "topics/peacekeeping");
  d.set_commission("bodies/csto-pa-defence-security-commission");
  auto* t = d.add_stage_history();
  t->set_stage(v1::DOCUMENT_STAGE_ADOPTED);
  t->mutable_date()->set_year(2006 + static_cast<int>(i % 19));
  t->mutable_date()->set_month(1 + static_cast<int>(i % 12));
  t->mutable_date()->set_day(1 + static_cast<int>(i % 28));
  d.set_stage(v1::DOCUMENT_STAGE_ADOPTED);
  *d.mutable_adopt_date() = t->date();
  d.set_revision_id("r1");
  return d;
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_url, requests_dir;
  int64_t documents = 100000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (absl::StartsWith(arg, "--store=")) {
      store_url = arg.substr(8);
    } else if (absl::StartsWith(arg, "--requests_dir=")) {
      requests_dir = arg.substr(15);
    } else if (absl::StartsWith(arg, "--documents=")) {
      if (!absl::SimpleAtoi(arg.substr(12), &documents) || documents < 1) {
        std::cerr << "legislation_bench_data: --documents needs a positive "
                     "number\n";
        return 2;
      }
    } else {
      std::cerr << "usage: legislation_bench_data --store=URL --documents=N "
                   "--requests_dir=DIR\n";
      return 2;
    }
  }
  if (store_url.empty() || requests_dir.empty()) {
    std::cerr << "legislation_bench_data: --store and --requests_dir are "
                 "required\n";
    return 2;
  }
  auto db = cstopa::common::OpenDatabase(
      store_url, cstopa::legislation::LegislationSchema());
  if (!db.ok()) {
    std::cerr << "legislation_bench_data: " << db.status() << "\n";
    return 1;
  }
  cstopa::common::PageTokenCodec tokens("bench");
  cstopa::common::ApiKeyStore keys;  // no writes through the API here
  cstopa::legislation::LegislationResources resources(db->get(), &tokens,
                                                      &keys);
  // As a server does at start, before writing: the search index of a store
  // that holds records of an older index version is rebuilt (here there are
  // none), and the records written next are indexed as they are written.
  if (auto s = resources.set().search_index().RebuildIfStale(); !s.ok()) {
    std::cerr << "legislation_bench_data: " << s << "\n";
    return 1;
  }
  absl::Time start = absl::Now();
  constexpr int64_t kBatch = 5000;
  int64_t inserted = 0;
  for (int64_t first = 0; first < documents; first += kBatch) {
    std::vector<v1::Document> batch;
    for (int64_t i = first; i < documents && i < first + kBatch; ++i)
      batch.push_back(MakeDocument(i));
    std::vector<const google::protobuf::Message*> ptrs;
    for (const auto& d : batch) ptrs.push_back(&d);
    auto n = resources.documents().store().InsertMissing(ptrs);
    if (!n.ok()) {
      std::cerr << "legislation_bench_data: " << n.status() << "\n";
      return 1;
    }
    inserted += *n;
  }
  std::cout << "inserted " << inserted << " of " << documents
            << " documents in " << absl::ToDoubleSeconds(absl::Now() - start)
            << " s\n";

  v1::GetDocumentRequest get;
  get.set_name(absl::StrFormat("documents/bench-doc-%06d", documents / 2));
  v1::SearchDocumentsRequest search;
  search.set_query("cybersecurity law");
  search.set_page_size(10);
  if (!WriteFile(requests_dir + "/GetDocument.bin", get.SerializeAsString()) ||
      !WriteFile(requests_dir + "/SearchDocuments.bin",
                 search.SerializeAsString())) {
    std::cerr << "legislation_bench_data: cannot write to " << requests_dir
              << "\n";
    return 1;
  }
  return 0;
}
