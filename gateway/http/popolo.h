// The record as Popolo JSON (https://www.popoloproject.com/specs/), the
// open standard that parliamentary-data tools read: `GET
// /v1/export?format=popolo`, made from the membership and events exports
// as they stream (record_export.h).
//
//   std::unique_ptr<ExportFormat> popolo = NewPopoloFormat();
//   out += popolo->Begin();
//   out += *popolo->Record(*type, bytes);        // each record, in turn
//   out += *popolo->Snapshot(service, token, n);  // after each service's
//   out += popolo->End();
//
// The document, one object a line (so that it can be read as it comes):
//
//   {
//   "persons":[
//   {"id":"persons/viktor-rogalev","name":"Viktor Rogalev",...},
//   ...
//   ],
//   "organizations":[...],
//   "posts":[...],
//   "memberships":[...],
//   "events":[...],
//   "meta":{"format":"popolo","generator":"cstopa",...,"recordCount":N}
//   }
//
// What each Popolo class is made from (ids are the records' resource
// names, so that an id leads back to the API):
// - persons: Person (name: the English name, or the first; other_names:
//   the others, each with its `lang`).
// - organizations: State ("state", its ISO 3166-1 code as an
//   identifier), Body (its kind: "assembly", "council", "standing
//   commission", ...; parent_id its parent body), Parliament
//   ("legislature", parent_id its state) and each of its chambers
//   ("chamber", id `parliaments/{p}/chambers/{chamber_id}`), Delegation
//   ("delegation", parent_id its parliament), Partner (its kind of
//   organization: "national parliament", "state", ...).
// - posts: one per post a Role names other than plain membership (chair,
//   secretary, plenipotentiary representative, ...) in an organization
//   (or chamber), id `{organization}/posts/{role}`: every holder of the
//   same post in the same organization shares it.
// - memberships: a Role with a holder (id the role's name; a role whose
//   holder the source does not name is only its post); a state's status
//   periods in the organization (`member` the state, role "member",
//   "observer", ...); a state's chairmanships (role "chair"); a
//   delegation's seat in its assembly (role "delegation"); a partner's
//   relationship with the assembly (role "partner", "observer" or
//   "partner or observer").
// - events: Event (classification its kind; attendees the persons taking
//   part; organization_id its organizer; parent_id its enclosing event).
// Dates are the sources' own, as precise as they are ("2024", "2024-05",
// "2024-05-31"); a start or end no source states is left out rather than
// guessed, and what the sources do say of it goes beside the dates of a
// membership, in members Popolo leaves open to extensions: `known_from`,
// `start_after`, `known_until`, `ended_by` (cstopa.type.v1.DateRange), so
// that a reader can tell "no end" from "no end known".
// Every object carries `sources`: one link per provenance, `url` the
// source (a seed file `003_x.txt` as `urn:cstopa:source:003_x.txt`),
// `note` its note, and `quote` and `date` beside them.
//
// Only live records: deleted ones have no place in Popolo.
#ifndef CSTOPA_GATEWAY_HTTP_POPOLO_H_
#define CSTOPA_GATEWAY_HTTP_POPOLO_H_

#include <memory>

#include "gateway/http/record_export.h"

namespace cstopa::gateway::http {

// The Popolo document, written from the exports of
// cstopa.membership.v1.MembershipService (held until its snapshot: it is
// small) and cstopa.events.v1.EventsService (streamed).
std::unique_ptr<ExportFormat> NewPopoloFormat();

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_POPOLO_H_
