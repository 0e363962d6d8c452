// The elasticsearch sink's read path for `sluice verify`: _mget of the documents a chunk of
// rows should have become (the stored _version is the commit LSN that wrote them), and a
// scroll over an index for the documents it holds.
#include <map>
#include <nlohmann/json.hpp>

#include "core/scan.h"
#include "sinks/elasticsearch/es_client.h"
#include "sinks/elasticsearch/es_sink.h"
#include "util/json_diff.h"

namespace sluice::es {

namespace {

using nlohmann::json;

constexpr int kScrollPage = 500;

Result<json> JsonAnswer(const Result<HttpResponse>& r, const std::string& what) {
  if (!r.ok()) return r.status();
  if (r->status >= 300) {
    return Status::Unavailable(what + " answered HTTP " + std::to_string(r->status) + ": " +
                               ErrorSummary(r->body));
  }
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded()) return Status::Internal(what + " answered with invalid JSON");
  return body;
}

class EsReader : public SinkReader {
 public:
  EsReader(const EsSinkOptions& options, std::string target)
      : options_(options), target_(std::move(target)), client_(options.client) {}

  Result<std::vector<Probe>> Compare(const std::vector<Change>& expected) override {
    // The index document each change should have become, grouped by index for _mget.
    std::vector<BulkItem> items(expected.size());
    std::map<std::string, std::vector<size_t>> by_index;
    for (size_t i = 0; i < expected.size(); ++i) {
      auto made = ItemsFor(expected[i], options_, target_);
      if (!made.ok()) return made.status();
      for (BulkItem& item : *made) {
        if (item.action == BulkItem::Action::kIndex) items[i] = std::move(item);
      }
      by_index[items[i].index].push_back(i);
    }
    std::vector<Probe> out(expected.size());
    for (const auto& [index, members] : by_index) {
      json docs = json::array();
      for (size_t i : members) {
        json d = {{"_id", items[i].id}};
        if (!items[i].routing.empty()) d["routing"] = items[i].routing;
        docs.push_back(std::move(d));
      }
      auto r = client_.Request("POST", "/" + index + "/_mget", json{{"docs", docs}}.dump());
      if (r.ok() && r->status == 404) {  // no index: nothing is there
        for (size_t i : members) out[i].verdict = Verdict::kMissing;
        continue;
      }
      auto body = JsonAnswer(r, "_mget on " + index);
      if (!body.ok()) return body.status();
      const json& got = (*body)["docs"];
      if (!got.is_array() || got.size() != members.size()) {
        return Status::Internal("_mget on " + index + " answered " +
                                std::to_string(got.is_array() ? got.size() : 0) + " docs for " +
                                std::to_string(members.size()));
      }
      for (size_t k = 0; k < members.size(); ++k) {
        size_t i = members[k];
        const json& d = got[k];
        if (!d.value("found", false)) {
          out[i].verdict = Verdict::kMissing;
          continue;
        }
        if (d.value("_version", uint64_t{0}) >= items[i].version) {
          out[i].verdict = Verdict::kNewer;
          continue;
        }
        json want = json::parse(items[i].source, nullptr, false);
        const json& stored = d["_source"];
        if (stored != want) {
          out[i].verdict = Verdict::kDifferent;
          out[i].detail = FirstMemberDifference(stored, want, "field", "the documents differ");
        }
      }
    }
    return out;
  }

  Status Entries(const TableId& table, const std::vector<std::string>& key_columns, Position before,
                 const std::function<Status(std::vector<HeldEntry>&&)>& page) override {
    auto index = RenderIndex(options_.index_template, table, target_);
    if (!index.ok()) return index.status();
    // Search sees what was refreshed; verify waited for the pipeline's checkpoint, so make
    // what it wrote searchable.
    auto refreshed = client_.Request("POST", "/" + *index + "/_refresh");
    if (refreshed.ok() && refreshed->status == 404) return Status::Ok();  // no index
    SLUICE_RETURN_IF_ERROR(JsonAnswer(refreshed, "_refresh of " + *index).status());
    json query = {{"size", kScrollPage}, {"version", true}, {"sort", json::array({"_doc"})}};
    auto r = client_.Request("POST", "/" + *index + "/_search?scroll=1m", query.dump());
    std::string scroll_id;
    Status result;
    while (true) {
      auto body = JsonAnswer(r, "search of " + *index);
      if (!body.ok()) {
        result = body.status();
        break;
      }
      scroll_id = body->value("_scroll_id", scroll_id);
      const json& hits = (*body)["hits"]["hits"];
      if (!hits.is_array() || hits.empty()) break;
      std::vector<HeldEntry> entries;
      for (const json& h : hits) {
        if (h.value("_version", uint64_t{0}) >= before.lsn.value()) continue;  // newer
        HeldEntry e;
        e.name = h.value("_id", "");
        const json& src = h["_source"];
        for (const std::string& col : key_columns) {
          auto v = src.is_object() ? src.find(col) : src.end();
          if (!src.is_object() || v == src.end() || v->is_null()) {
            e.key.clear();
            break;
          }
          e.key.push_back(v->is_string() ? v->get<std::string>() : v->dump());
        }
        entries.push_back(std::move(e));
      }
      if (!entries.empty()) {
        result = page(std::move(entries));
        if (!result.ok()) break;
      }
      if (scroll_id.empty()) break;
      r = client_.Request("POST", "/_search/scroll",
                          json{{"scroll", "1m"}, {"scroll_id", scroll_id}}.dump());
    }
    if (!scroll_id.empty()) {
      (void)client_.Request("DELETE", "/_search/scroll",
                            json{{"scroll_id", json::array({scroll_id})}}.dump());
    }
    return result;
  }

 private:
  EsSinkOptions options_;
  std::string target_;
  EsClient client_;
};

}  // namespace

Result<std::unique_ptr<SinkReader>> EsSink::Reader() {
  return std::unique_ptr<SinkReader>(std::make_unique<EsReader>(options_, ctx_.target));
}

}  // namespace sluice::es
