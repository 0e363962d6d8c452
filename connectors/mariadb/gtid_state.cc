#include "connectors/mariadb/gtid_state.h"

#include <vector>

namespace sluice::mariadb {

Result<GtidState> GtidState::Parse(std::string_view text) {
  auto list = ParseGtidList(text);
  if (!list.ok()) return list.status();
  GtidState s;
  for (const Gtid& g : list.value()) {
    if (s.domains_.count(g.domain)) {
      return Status::InvalidArgument("GTID list '" + std::string(text) + "' names domain " +
                                     std::to_string(g.domain) + " twice");
    }
    s.domains_[g.domain] = g;
  }
  return s;
}

void GtidState::Advance(const Gtid& gtid) { domains_[gtid.domain] = gtid; }

uint64_t GtidState::Position() const {
  uint64_t sum = 1;
  for (const auto& [domain, g] : domains_) sum += g.seq;
  return sum;
}

bool GtidState::Covers(const GtidState& other) const {
  for (const auto& [domain, g] : other.domains_) {
    auto it = domains_.find(domain);
    if (it == domains_.end() || it->second.seq < g.seq) return false;
  }
  return true;
}

std::string GtidState::ToString() const {
  std::vector<Gtid> list;
  for (const auto& [domain, g] : domains_) list.push_back(g);
  return GtidListText(list);
}

}  // namespace sluice::mariadb
