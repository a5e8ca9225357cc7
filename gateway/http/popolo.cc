#include "gateway/http/popolo.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/events/v1/events.pb.h"
#include "cstopa/membership/v1/membership.pb.h"
#include "gateway/http/json_text.h"
#include "google/protobuf/descriptor.h"
#include "services/common/api/language.h"

namespace cstopa::gateway::http {
namespace {

namespace mv1 = ::cstopa::membership::v1;
namespace ev1 = ::cstopa::events::v1;
using ::cstopa::http::HttpHeader;
using ::cstopa::type::v1::DateRange;
using ::cstopa::type::v1::LocalizedText;
using ::cstopa::type::v1::Provenance;
using Texts = google::protobuf::RepeatedPtrField<LocalizedText>;
using Sources = google::protobuf::RepeatedPtrField<Provenance>;

constexpr char kMembershipService[] = "cstopa.membership.v1.MembershipService";
constexpr char kEventsService[] = "cstopa.events.v1.EventsService";

// One JSON object, its members added in turn; empty values are left out.
class Object {
 public:
  Object& Str(absl::string_view key, absl::string_view value) {
    if (value.empty()) return *this;
    Key(key);
    AppendJsonString(&out_, value);
    return *this;
  }
  // `json`: a JSON value (object or array) as text; "" leaves it out.
  Object& Raw(absl::string_view key, absl::string_view json) {
    if (json.empty()) return *this;
    Key(key);
    out_.append(json.data(), json.size());
    return *this;
  }
  std::string Close() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(absl::string_view key) {
    if (out_.size() > 1) out_ += ',';
    AppendJsonString(&out_, key);
    out_ += ':';
  }
  std::string out_ = "{";
};

// `items` (JSON values) as an array, "" when there are none.
std::string Array(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

// An enum value's name as words: ROLE_TYPE_DEPUTY_CHAIR -> "deputy chair"
// (prefix: "ROLE_TYPE_"); "" for the unspecified value.
std::string Words(const google::protobuf::EnumDescriptor* e, int value,
                  absl::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* v = e->FindValueByNumber(value);
  if (v == nullptr || value == 0) return "";
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, prefix);
  return absl::AsciiStrToLower(absl::StrReplaceAll(name, {{"_", " "}}));
}

// The text to name a thing by: the English one, else the first.
std::string Name(const Texts& texts) { return common::PreferredText(texts); }

// The texts of `texts` other than the one it is named by, as Popolo
// other_names (with the language beside them); `note` says what they are.
// With `include_preferred`, that one too.
std::vector<std::string> OtherNames(const Texts& texts, absl::string_view note,
                                    bool include_preferred = false) {
  std::vector<std::string> out;
  const std::string name = include_preferred ? "" : Name(texts);
  for (const LocalizedText& t : texts) {
    if (t.text().empty() || t.text() == name) continue;
    out.push_back(Object()
                      .Str("name", t.text())
                      .Str("lang", t.language_code())
                      .Str("note", note)
                      .Close());
  }
  return out;
}

// A new Popolo object: its id, name and other names.
Object Named(absl::string_view id, const Texts& display_name) {
  Object o;
  o.Str("id", id)
      .Str("name", Name(display_name))
      .Raw("other_names", Array(OtherNames(display_name, "")));
  return o;
}

// An ISO 3166-1 country code as Popolo `identifiers`; "" without one.
std::string IsoIdentifier(const std::string& region_code) {
  if (region_code.empty()) return "";
  return Array({Object()
                    .Str("identifier", region_code)
                    .Str("scheme", "ISO 3166-1 alpha-2")
                    .Close()});
}

// A date as precise as it is: "2024", "2024-05", "2024-05-31"; "" unset.
std::string DateText(const google::type::Date& d) {
  if (d.year() == 0) return "";
  if (d.month() == 0) return absl::StrFormat("%04d", d.year());
  if (d.day() == 0) return absl::StrFormat("%04d-%02d", d.year(), d.month());
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

// A time as Popolo's patterns take it, to the second, in UTC.
std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}
std::string TimeText(const google::protobuf::Timestamp& t) {
  return TimeText(absl::FromUnixSeconds(t.seconds()));
}

// `start_date` and `end_date` of `range`: only the dates the sources state;
// what they say of an end they do not state beside them (`known_from`,
// `start_after`, `known_until`, `ended_by`, as in cstopa.type.v1.DateRange).
Object& Period(Object& o, const DateRange& range) {
  return o.Str("start_date", DateText(range.start_date()))
      .Str("end_date", DateText(range.end_date()))
      .Str("known_from", DateText(range.known_from()))
      .Str("start_after", DateText(range.start_after()))
      .Str("known_until", DateText(range.known_until()))
      .Str("ended_by", DateText(range.ended_by()));
}

template <typename Record>
Object& Times(Object& o, const Record& r) {
  if (r.has_create_time()) o.Str("created_at", TimeText(r.create_time()));
  if (r.has_update_time()) o.Str("updated_at", TimeText(r.update_time()));
  return o;
}

// A source as a URI: as it is when it is one, a seed file's name as
// `urn:cstopa:source:<name>` (percent-encoded).
std::string SourceUrl(absl::string_view source) {
  const size_t colon = source.find(':');
  if (colon != absl::string_view::npos && colon > 0 &&
      absl::ascii_isalpha(static_cast<unsigned char>(source[0])) &&
      source.find_first_of("/ ") > colon) {
    return std::string(source);
  }
  std::string out = "urn:cstopa:source:";
  for (unsigned char c : source) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// Popolo `sources`: a link per distinct provenance with a source.
std::string SourcesJson(const std::vector<const Sources*>& lists) {
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  std::vector<std::string> links;
  for (const Sources* list : lists) {
    for (const Provenance& p : *list) {
      if (p.source().empty()) continue;
      if (!seen.insert({p.source(), p.note(), p.quote()}).second) continue;
      links.push_back(Object()
                          .Str("url", SourceUrl(p.source()))
                          .Str("note", p.note())
                          .Str("quote", p.quote())
                          .Str("date", DateText(p.source_date()))
                          .Close());
    }
  }
  return Array(links);
}
std::string SourcesJson(const Sources& list) { return SourcesJson({&list}); }

std::string Member(absl::string_view type, absl::string_view id) {
  return Object().Str("@type", type).Str("id", id).Close();
}

// The parent collection's name of `name`: "parliaments/kz" of
// "parliaments/kz/delegations/d".
std::string ParentOf(absl::string_view name) {
  const size_t slash = name.rfind('/');
  if (slash == absl::string_view::npos) return "";
  const size_t before = name.rfind('/', slash - 1);
  if (before == absl::string_view::npos || before == 0) return "";
  return std::string(name.substr(0, before));
}

class PopoloFormat final : public ExportFormat {
 public:
  std::vector<HttpHeader> Headers() const override {
    return DownloadHeaders("cstopa-popolo.json.gz");
  }
  // Membership first: events name its persons and states.
  int Order(const std::string& service) const override {
    if (service == kMembershipService) return 0;
    if (service == kEventsService) return 1;
    return -1;
  }
  std::string Begin() override { return "{\n"; }

  absl::StatusOr<std::string> Record(const google::protobuf::Descriptor& type,
                                     absl::string_view bytes) override {
    const std::string& t = type.full_name();
    if (t == ev1::Event::descriptor()->full_name()) {
      ev1::Event e;
      if (!Parse(bytes, &e)) return Unreadable(t);
      std::string out = Open("events");
      absl::StrAppend(&out, events_ > 0 ? ",\n" : "", EventJson(e));
      ++events_;
      ++objects_;
      return out;
    }
    if (t == mv1::State::descriptor()->full_name())
      return Keep(bytes, &states_, t);
    if (t == mv1::Parliament::descriptor()->full_name())
      return Keep(bytes, &parliaments_, t);
    if (t == mv1::Delegation::descriptor()->full_name())
      return Keep(bytes, &delegations_, t);
    if (t == mv1::Person::descriptor()->full_name())
      return Keep(bytes, &persons_, t);
    if (t == mv1::Role::descriptor()->full_name())
      return Keep(bytes, &roles_, t);
    if (t == mv1::Body::descriptor()->full_name())
      return Keep(bytes, &bodies_, t);
    if (t == mv1::Partner::descriptor()->full_name())
      return Keep(bytes, &partners_, t);
    return std::string();  // no Popolo class for it
  }

  absl::StatusOr<std::string> Snapshot(const std::string& service,
                                       const std::string& resume_token,
                                       int64_t record_count) override {
    snapshots_.push_back(Object()
                             .Str("service", service)
                             .Str("resumeToken", resume_token)
                             .Raw("recordCount", absl::StrCat(record_count))
                             .Close());
    if (service == kMembershipService) return MembershipSections();
    return std::string();
  }

  std::string End() override {
    std::string out = MembershipSections();
    if (events_ == 0) out += Open("events");  // none came: an empty array
    out += Close();
    absl::StrAppend(
        &out, "\"meta\":",
        Object()
            .Str("format", "popolo")
            .Str("generator", "cstopa")
            .Str("spec", "https://www.popoloproject.com/specs/")
            .Str("exportTime", TimeText(absl::Now()))
            .Raw("snapshots",
                 absl::StrCat("[", absl::StrJoin(snapshots_, ","), "]"))
            .Raw("recordCount", absl::StrCat(objects_))
            .Close(),
        "\n}\n");
    return out;
  }

  std::string Failure(const std::string& error_json) override {
    // `error_json` is {"error": {...}}: its member goes into the document,
    // which ends without its `meta`.
    std::string out = Close();
    absl::string_view member = error_json;
    absl::ConsumePrefix(&member, "{");
    absl::ConsumeSuffix(&member, "}");
    absl::StrAppend(&out, member, "\n}\n");
    return out;
  }

 private:
  template <typename Message>
  static bool Parse(absl::string_view bytes, Message* m) {
    return m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  }
  static absl::Status Unreadable(const std::string& type) {
    return absl::InternalError(absl::StrCat("a ", type, " could not be read"));
  }
  template <typename Message>
  absl::StatusOr<std::string> Keep(absl::string_view bytes,
                                   std::vector<Message>* into,
                                   const std::string& type) {
    Message m;
    if (!Parse(bytes, &m)) return Unreadable(type);
    if (!m.has_delete_time()) into->push_back(std::move(m));
    return std::string();
  }

  // Opens array `key` (closing the one open); "" when it is open already.
  std::string Open(absl::string_view key) {
    if (open_ == key) return "";
    std::string out = Close();
    absl::StrAppend(&out, "\"", key, "\":[\n");
    open_ = std::string(key);
    return out;
  }
  // Closes the open array, if any.
  std::string Close() {
    if (open_.empty()) return "";
    open_.clear();
    return "\n],\n";
  }
  std::string Section(absl::string_view key,
                      const std::vector<std::string>& items) {
    std::string out = Open(key);
    out += absl::StrJoin(items, ",\n");
    objects_ += static_cast<int64_t>(items.size());
    return out;
  }

  // The four membership arrays, once; "" after.
  std::string MembershipSections() {
    if (membership_written_) return "";
    membership_written_ = true;
    Index();
    std::string out;
    out += Section("persons", Persons());
    out += Section("organizations", Organizations());
    std::vector<std::string> posts, memberships;
    RolesAndPosts(&posts, &memberships);
    out += Section("posts", posts);
    StateAndBodyMemberships(&memberships);
    out += Section("memberships", memberships);
    out += Close();
    return out;
  }

  void Index() {
    for (const mv1::State& s : states_)
      state_names_[s.name()] = Name(s.display_name());
    for (const mv1::Person& p : persons_)
      person_names_[p.name()] = Name(p.display_name());
    // The organization states are members of: the top body of kind
    // ORGANIZATION; the assembly partners relate to: the first ASSEMBLY.
    for (const mv1::Body& b : bodies_) {
      if (organization_.empty() && b.kind() == mv1::BODY_KIND_ORGANIZATION &&
          b.parent_body().empty())
        organization_ = b.name();
      if (assembly_.empty() && b.kind() == mv1::BODY_KIND_ASSEMBLY)
        assembly_ = b.name();
    }
    if (organization_.empty()) organization_ = assembly_;
  }

  std::vector<std::string> Persons() const {
    std::vector<std::string> out;
    for (const mv1::Person& p : persons_) {
      Object o = Named(p.name(), p.display_name());
      if (auto it = state_names_.find(p.state()); it != state_names_.end())
        o.Str("national_identity", it->second);
      Times(o, p).Raw("sources", SourcesJson(p.provenance()));
      out.push_back(o.Close());
    }
    return out;
  }

  std::vector<std::string> Organizations() const {
    std::vector<std::string> out;
    const auto* body_kind = mv1::BodyKind_descriptor();
    for (const mv1::State& s : states_) {
      Object o = Named(s.name(), s.display_name());
      o.Str("classification", "state")
          .Raw("identifiers", IsoIdentifier(s.region_code()));
      Times(o, s).Raw("sources", SourcesJson(s.provenance()));
      out.push_back(o.Close());
    }
    for (const mv1::Body& b : bodies_) {
      std::vector<std::string> names = OtherNames(b.display_name(), "");
      for (std::string& a : OtherNames(b.abbreviation(), "abbreviation",
                                       /*include_preferred=*/true))
        names.push_back(std::move(a));
      std::vector<std::string> clauses;
      for (const mv1::MandateClause& c : b.mandate()) {
        std::string text = Name(c.text());
        if (!text.empty()) clauses.push_back(std::move(text));
      }
      Object o;
      o.Str("id", b.name())
          .Str("name", Name(b.display_name()))
          .Raw("other_names", Array(names))
          .Str("classification", Words(body_kind, b.kind(), "BODY_KIND_"))
          .Str("parent_id", b.parent_body())
          .Str("description", absl::StrJoin(clauses, " "));
      Times(o, b).Raw("sources", SourcesJson(b.provenance()));
      out.push_back(o.Close());
    }
    for (const mv1::Parliament& p : parliaments_) {
      Object o = Named(p.name(), p.display_name());
      o.Str("classification", "legislature")
          .Str("parent_id", p.state())
          .Raw("links", Website(p.website_uri()));
      Times(o, p).Raw("sources", SourcesJson(p.provenance()));
      out.push_back(o.Close());
      for (const mv1::Chamber& c : p.chambers()) {
        out.push_back(
            Named(ChamberId(p.name(), c.chamber_id()), c.display_name())
                .Str("classification", "chamber")
                .Str("parent_id", p.name())
                .Raw("links", Website(c.website_uri()))
                .Raw("sources", SourcesJson(p.provenance()))
                .Close());
      }
    }
    for (const mv1::Delegation& d : delegations_) {
      Object o = Named(d.name(), d.display_name());
      o.Str("classification", "delegation")
          .Str("parent_id", ParentOf(d.name()));
      Times(o, d).Raw("sources", SourcesJson(d.provenance()));
      out.push_back(o.Close());
    }
    for (const mv1::Partner& p : partners_) {
      std::string kind = Words(mv1::OrganizationType_descriptor(),
                               p.organization_type(), "ORGANIZATION_TYPE_");
      Object o = Named(p.name(), p.display_name());
      o.Str("classification", kind.empty() ? "partner" : kind)
          .Raw("identifiers", IsoIdentifier(p.region_code()));
      Times(o, p).Raw("sources", SourcesJson(p.provenance()));
      out.push_back(o.Close());
    }
    return out;
  }

  static std::string ChamberId(absl::string_view parliament,
                               absl::string_view chamber) {
    return absl::StrCat(parliament, "/chambers/", chamber);
  }
  static std::string Website(const std::string& uri) {
    if (uri.empty()) return "";
    return Array({Object().Str("url", uri).Str("note", "website").Close()});
  }

  // Posts (one per organization and kind of post, other than plain
  // membership) and the memberships of roles with a holder.
  void RolesAndPosts(std::vector<std::string>* posts,
                     std::vector<std::string>* memberships) const {
    struct Post {
      std::string organization, role;
      std::vector<std::string> labels;
      std::vector<const Sources*> sources;
    };
    std::vector<Post> found;
    std::map<std::string, size_t> by_id;
    const auto* role_type = mv1::RoleType_descriptor();
    for (const mv1::Role& r : roles_) {
      const std::string organization =
          r.chamber_id().empty() ? r.organization()
                                 : ChamberId(r.organization(), r.chamber_id());
      const std::string role = Words(role_type, r.role_type(), "ROLE_TYPE_");
      const std::string title = Name(r.title());
      std::string post_id;
      if (r.role_type() != mv1::ROLE_TYPE_MEMBER && !role.empty()) {
        post_id = absl::StrCat(organization, "/posts/",
                               absl::StrReplaceAll(role, {{" ", "-"}}));
        auto [it, added] = by_id.emplace(post_id, found.size());
        if (added) found.push_back({organization, role, {}, {}});
        Post& p = found[it->second];
        if (!title.empty() && std::find(p.labels.begin(), p.labels.end(),
                                        title) == p.labels.end())
          p.labels.push_back(title);
        p.sources.push_back(&r.provenance());
      }
      if (r.person().empty()) continue;  // only its post: holder not named
      Object o;
      o.Str("id", r.name())
          .Str("label", title)
          .Str("role", role)
          .Str("person_id", r.person())
          .Str("organization_id", organization)
          .Str("post_id", post_id);
      Period(o, r.period());
      Times(o, r).Raw("sources", SourcesJson(r.provenance()));
      memberships->push_back(o.Close());
    }
    for (const auto& [id, index] : by_id) {
      const Post& p = found[index];
      std::vector<std::string> other;
      for (size_t i = 1; i < p.labels.size(); ++i) {
        std::string quoted;
        AppendJsonString(&quoted, p.labels[i]);
        other.push_back(std::move(quoted));
      }
      posts->push_back(
          Object()
              .Str("id", id)
              .Str("label", p.labels.empty() ? p.role : p.labels[0])
              .Raw("other_label", Array(other))
              .Str("role", p.role)
              .Str("organization_id", p.organization)
              .Raw("sources", SourcesJson(p.sources))
              .Close());
    }
  }

  // Memberships of organizations: states in the organization (status
  // periods), states chairing bodies, delegations in their assembly,
  // partners of the assembly.
  void StateAndBodyMemberships(std::vector<std::string>* out) const {
    const auto* status = mv1::MembershipStatus_descriptor();
    for (const mv1::State& s : states_) {
      if (!organization_.empty()) {
        for (int i = 0; i < s.status_history_size(); ++i) {
          const mv1::StatusPeriod& p = s.status_history(i);
          Object o;
          o.Str("id", absl::StrCat(s.name(), "/status/", i))
              .Str("role", Words(status, p.status(), "MEMBERSHIP_STATUS_"))
              .Raw("member", Member("Organization", s.name()))
              .Str("organization_id", organization_);
          Period(o, p.period());
          o.Raw("sources", SourcesJson({&p.provenance(), &s.provenance()}));
          out->push_back(o.Close());
        }
      }
      for (int i = 0; i < s.chairmanships_size(); ++i) {
        const mv1::Chairmanship& c = s.chairmanships(i);
        Object o;
        o.Str("id", absl::StrCat(s.name(), "/chairmanships/", i))
            .Str("role", "chair")
            .Raw("member", Member("Organization", s.name()))
            .Str("organization_id", c.body());
        Period(o, c.period());
        o.Raw("sources", SourcesJson({&c.provenance(), &s.provenance()}));
        out->push_back(o.Close());
      }
    }
    for (const mv1::Delegation& d : delegations_) {
      Object o;
      o.Str("id", absl::StrCat(d.name(), "/seat"))
          .Str("role", "delegation")
          .Raw("member", Member("Organization", d.name()))
          .Str("organization_id", d.assembly())
          .Str("on_behalf_of_id", ParentOf(d.name()))
          .Raw("sources", SourcesJson(d.provenance()));
      out->push_back(o.Close());
    }
    if (assembly_.empty()) return;
    for (const mv1::Partner& p : partners_) {
      std::string kind =
          p.kind() == mv1::PARTNER_KIND_UNDETERMINED
              ? "partner or observer"
              : Words(mv1::PartnerKind_descriptor(), p.kind(), "PARTNER_KIND_");
      Object o;
      o.Str("id", absl::StrCat(p.name(), "/relationship"))
          .Str("role", kind.empty() ? "partner or observer" : kind)
          .Raw("member", Member("Organization", p.name()))
          .Str("organization_id", assembly_);
      Period(o, p.period());
      o.Raw("sources", SourcesJson(p.provenance()));
      out->push_back(o.Close());
    }
  }

  std::string EventJson(const ev1::Event& e) const {
    std::vector<std::string> attendees;
    for (const ev1::Participant& p : e.participants()) {
      if (p.kind() != ev1::PARTICIPANT_KIND_PERSON) continue;
      std::string name = Name(p.display_name());
      if (name.empty()) {
        if (auto it = person_names_.find(p.participant());
            it != person_names_.end())
          name = it->second;
      }
      attendees.push_back(
          Object().Str("id", p.participant()).Str("name", name).Close());
    }
    std::string location;
    if (e.has_place()) {
      std::vector<std::string> parts;
      if (std::string city = Name(e.place().locality()); !city.empty())
        parts.push_back(std::move(city));
      if (auto it = state_names_.find(e.place().state());
          it != state_names_.end() && !it->second.empty()) {
        parts.push_back(it->second);
      } else if (!e.place().region_code().empty()) {
        parts.push_back(e.place().region_code());
      }
      location = absl::StrJoin(parts, ", ");
    }
    Object o;
    o.Str("id", e.name())
        .Str("name", Name(e.title()))
        .Str("description", Name(e.summary()))
        .Str("classification",
             Words(ev1::EventKind_descriptor(), e.kind(), "EVENT_KIND_"))
        .Str("start_date", e.has_start_time()
                               ? TimeText(e.start_time())
                               : DateText(e.dates().start_date()))
        .Str("end_date", e.has_end_time() ? TimeText(e.end_time())
                                          : DateText(e.dates().end_date()))
        .Str("location", location)
        .Str("organization_id", e.organizer())
        .Str("parent_id", e.parent_event())
        .Raw("attendees", Array(attendees));
    return Times(o, e).Raw("sources", SourcesJson(e.provenance())).Close();
  }

  std::vector<mv1::State> states_;
  std::vector<mv1::Parliament> parliaments_;
  std::vector<mv1::Delegation> delegations_;
  std::vector<mv1::Person> persons_;
  std::vector<mv1::Role> roles_;
  std::vector<mv1::Body> bodies_;
  std::vector<mv1::Partner> partners_;
  std::map<std::string, std::string> state_names_, person_names_;
  std::string organization_, assembly_;

  bool membership_written_ = false;
  std::string open_;  // the array being written
  int64_t events_ = 0;
  int64_t objects_ = 0;
  std::vector<std::string> snapshots_;
};

}  // namespace

std::unique_ptr<ExportFormat> NewPopoloFormat() {
  return std::make_unique<PopoloFormat>();
}

}  // namespace cstopa::gateway::http
