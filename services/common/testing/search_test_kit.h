// What tests of every service's `Search` (resources/search_index.h) share:
// a probe that runs searches through a service's blocking face and reads
// their hits, walks every page, checks that the counts agree with the hits,
// and throws hostile queries, filters and page tokens at the method.
//
//   using Probe = common::testing::SearchProbe<v1::MembershipServiceBlocking,
//                                              v1::SearchRequest,
//                                              v1::SearchResponse>;
//   Probe search(api_.get());
//   EXPECT_THAT(search.Names("Roga"), Contains("persons/viktor-rogalev"));
//   search.ExpectHostileInputsRefusedOrAnswered();
#ifndef CSTOPA_SERVICES_COMMON_TESTING_SEARCH_TEST_KIT_H_
#define CSTOPA_SERVICES_COMMON_TESTING_SEARCH_TEST_KIT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/api/call.h"
#include "services/common/resources/search_index.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/text/search_text.h"

namespace cstopa::common::testing {

// Queries the search text analysis refuses (text/search_text.h,
// ParseSearchWords): each must be INVALID_ARGUMENT, reason
// INVALID_SEARCH_QUERY, on field `query`.
inline std::vector<std::string> RefusedSearchQueries() {
  std::string many;
  for (size_t i = 0; i <= kMaxQueryWords; ++i)
    absl::StrAppend(&many, i == 0 ? "" : " ", "word", i);
  return {
      "",                           // empty
      std::string(10 * 1024, 'a'),  // 10 kB
      std::string(kMaxQueryBytes + 1, 'x'),
      "\xff\xfe",  // not UTF-8
      "Roga\xc3",  // a cut UTF-8 sequence
      "*",         // no word at all
      "\"",
      "\\",
      "() -- ;",
      many,  // one word too many
  };
}

// Queries that mean something to FTS5, tsquery or SQL: each must be
// answered (OK) or refused with INVALID_ARGUMENT (INVALID_SEARCH_QUERY),
// never INTERNAL.
inline std::vector<std::string> HostileSearchQueries() {
  return {
      "\") OR 1=1 --",
      "') OR 1=1 --",
      "NEAR(",
      "NEAR(a b, 2)",
      "title:Rogalev",
      "{title body}: x",
      "^Roga",
      "Roga*",
      "a AND OR NOT b",
      "a & b | !c",
      "a:* <-> b",
      "'; DROP TABLE search_entries; --",
      "x\" OR \"y",
      "\"\"\"",
      "\\\\",
      std::string("a\0b", 3),
      "\xcc\x81",  // a combining mark alone
      "%_",
      "<mark>x</mark>",
      std::string(kMaxQueryBytes, 'b'),  // at the limit
      std::string(kMaxQueryBytes / 2, '*') + " Roga",
  };
}

// A service's Search through its blocking face (`Api` has
// `Search(const Caller&, const Request&, Response*)`).
template <typename Api, typename Request, typename Response>
class SearchProbe {
 public:
  explicit SearchProbe(Api* api) : api_(api) {}

  absl::StatusOr<Response> Search(const std::string& query,
                                  const std::string& filter = "",
                                  int32_t page_size = 0,
                                  const std::string& page_token = "") {
    Request req;
    req.set_query(query);
    req.set_filter(filter);
    req.set_page_size(page_size);
    req.set_page_token(page_token);
    Response resp;
    absl::Status s = api_->Search(Caller(), req, &resp);
    if (!s.ok()) return s;
    return resp;
  }

  // The names of the hits of one page of kMaxSearchHits, best first, after
  // checking that the page's counts agree with its hits; empty (and a
  // failure) when the search fails.
  std::vector<std::string> Names(const std::string& query,
                                 const std::string& filter = "") {
    absl::StatusOr<Response> r = Search(query, filter, kMaxSearchHits);
    EXPECT_TRUE(r.ok()) << "query \"" << absl::CHexEscape(query) << "\" "
                        << r.status();
    if (!r.ok()) return {};
    ExpectCountsAgree(*r);
    return NamesOf(*r);
  }

  static std::vector<std::string> NamesOf(const Response& r) {
    std::vector<std::string> names;
    for (const auto& h : r.hits()) names.push_back(h.name());
    return names;
  }

  // Every hit of `query` by pages of `page_size`, checking that no name
  // comes twice, that every page but the last is full and that the counts
  // are the same on every page.
  std::vector<std::string> AllPages(const std::string& query,
                                    const std::string& filter,
                                    int32_t page_size) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    std::string token;
    int64_t total = -1;
    for (int page = 0; page < 1000; ++page) {
      absl::StatusOr<Response> r = Search(query, filter, page_size, token);
      EXPECT_TRUE(r.ok()) << "page " << page << ": " << r.status();
      if (!r.ok()) break;
      if (total < 0) total = r->total_size();
      EXPECT_EQ(r->total_size(), total) << "page " << page;
      for (const auto& h : r->hits()) {
        EXPECT_TRUE(seen.insert(h.name()).second)
            << h.name() << " again on page " << page;
        names.push_back(h.name());
      }
      token = r->next_page_token();
      if (token.empty()) break;
      EXPECT_EQ(r->hits_size(), page_size) << "short page " << page;
    }
    EXPECT_EQ(static_cast<int64_t>(names.size()), total);
    return names;
  }

  // The response's counts agree with its hits: the type counts add up to
  // total_size, largest first; when the page holds every hit, total_size is
  // their number and each type's count the number of its hits.
  static void ExpectCountsAgree(const Response& r) {
    int64_t sum = 0;
    std::map<std::string, int64_t> counts;
    for (int i = 0; i < r.type_counts_size(); ++i) {
      const auto& c = r.type_counts(i);
      EXPECT_GT(c.count(), 0) << c.type();
      EXPECT_TRUE(counts.emplace(c.type(), c.count()).second) << c.type();
      sum += c.count();
      if (i > 0) {
        const auto& prev = r.type_counts(i - 1);
        EXPECT_TRUE(prev.count() > c.count() ||
                    (prev.count() == c.count() && prev.type() < c.type()))
            << prev.type() << " before " << c.type();
      }
    }
    EXPECT_EQ(sum, r.total_size());
    EXPECT_LE(r.hits_size(), r.total_size());
    if (!r.next_page_token().empty()) return;
    EXPECT_EQ(r.hits_size(), r.total_size());
    std::map<std::string, int64_t> hits;
    for (const auto& h : r.hits()) ++hits[h.type()];
    EXPECT_EQ(hits, counts);
  }

  // Hostile queries, filters, page sizes and tokens are refused with
  // INVALID_ARGUMENT (the documented reason) or answered; never INTERNAL,
  // never a crash; and the index still answers `good_query` afterwards with
  // the same hits.
  void ExpectHostileInputsRefusedOrAnswered(const std::string& good_query) {
    const std::vector<std::string> before = Names(good_query);
    EXPECT_FALSE(before.empty()) << good_query;
    for (const std::string& q : RefusedSearchQueries()) {
      absl::StatusOr<Response> r = Search(q);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << "query \"" << absl::CHexEscape(q) << "\" " << r.status();
      EXPECT_EQ(ReasonOf(r.status()), "INVALID_SEARCH_QUERY")
          << absl::CHexEscape(q);
      EXPECT_EQ(FieldsOf(r.status()), std::vector<std::string>{"query"})
          << absl::CHexEscape(q);
    }
    for (const std::string& q : HostileSearchQueries()) {
      absl::StatusOr<Response> r = Search(q);
      if (r.ok()) {
        ExpectCountsAgree(*r);
        continue;
      }
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << "query \"" << absl::CHexEscape(q) << "\" " << r.status();
      EXPECT_EQ(ReasonOf(r.status()), "INVALID_SEARCH_QUERY")
          << absl::CHexEscape(q);
    }
    // A filter on a field search does not have, and one cut short.
    for (const char* f : {"title = \"x\"", "date >= "}) {
      absl::StatusOr<Response> r = Search(good_query, f);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << "filter \"" << f << "\" " << r.status();
      EXPECT_EQ(ReasonOf(r.status()), "INVALID_FILTER") << f;
    }
    for (const std::string& f :
         {std::string("type = \"x\") OR 1=1 --"),
          std::string("type = \"x\" OR name"),
          std::string("type = \"'; DROP TABLE search_entries; --\""),
          std::string("date >= 2024-01-01 AND date < \"\xff\xfe\""),
          std::string("\xff\xfe")}) {
      absl::StatusOr<Response> r = Search(good_query, f);
      if (r.ok()) {
        ExpectCountsAgree(*r);
        continue;
      }
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << "filter \"" << absl::CHexEscape(f) << "\" " << r.status();
      EXPECT_EQ(ReasonOf(r.status()), "INVALID_FILTER") << absl::CHexEscape(f);
    }
    EXPECT_EQ(Search(good_query, "", -1).status().code(),
              absl::StatusCode::kInvalidArgument);
    for (const std::string& token :
         {std::string("garbage"), std::string("\xff"),
          std::string(4096, 'A')}) {
      absl::StatusOr<Response> r = Search(good_query, "", 2, token);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
          << "token \"" << absl::CHexEscape(token) << "\" " << r.status();
      EXPECT_EQ(ReasonOf(r.status()), "INVALID_PAGE_TOKEN");
    }
    EXPECT_EQ(Names(good_query), before);
  }

  // A page token is bound to its query and filter: with another one it is
  // INVALID_ARGUMENT (INVALID_PAGE_TOKEN). `query` must have more than one
  // hit.
  void ExpectTokenBoundToQuery(const std::string& query,
                               const std::string& other_query) {
    absl::StatusOr<Response> first = Search(query, "", 1);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_FALSE(first->next_page_token().empty()) << query;
    const std::string& token = first->next_page_token();
    absl::StatusOr<Response> r = Search(other_query, "", 1, token);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    EXPECT_EQ(ReasonOf(r.status()), "INVALID_PAGE_TOKEN");
    r = Search(query, "type = \"cstopa.org/None\"", 1, token);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << r.status();
    r = Search(query, "", 1, token);
    EXPECT_TRUE(r.ok()) << r.status();
  }

 private:
  Api* api_;
};

}  // namespace cstopa::common::testing

#endif  // CSTOPA_SERVICES_COMMON_TESTING_SEARCH_TEST_KIT_H_
