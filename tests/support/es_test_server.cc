// The behaviours below follow the Elasticsearch reference (docs-bulk, docs-index_,
// docs-delete-by-query, indices-create-index, docs-get, search-count, indices-refresh) for
// a single-shard index. Simplifications, all invisible to the sink: one shard (routing is
// recorded, not used for placement), delete tombstones kept forever (Elasticsearch keeps
// them for index.gc_deletes, 60 s by default), no dynamic mapping, and only integer field
// types of an explicit mapping are enforced.
#include "support/es_test_server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace sluice::test {

using nlohmann::json;

namespace {

struct StoredDoc {
  json source;
  uint64_t version = 0;
  bool deleted = false;  // a tombstone: keeps the version of the delete
  uint64_t seq_no = 0;
  std::string routing;
};

struct Index {
  json mappings = json::object();
  json settings = json::object();
  std::set<std::string> integer_fields;         // fields mapped as long/integer/short/byte
  std::map<std::string, StoredDoc> docs;        // real-time view (GET, versioning)
  std::map<std::string, StoredDoc> searchable;  // as of the last refresh (_count, _delete_by_query)
  uint64_t next_seq_no = 0;
};

json Error(const std::string& type, const std::string& reason) {
  json e = {{"type", type}, {"reason", reason}};
  return e;
}

// The documented error envelope: {"error": {"root_cause": [...], "type", "reason"}, "status"}.
void SendError(httplib::Response& res, int status, const std::string& type,
               const std::string& reason) {
  json e = Error(type, reason);
  json body = {{"error", e}, {"status", status}};
  body["error"]["root_cause"] = json::array({e});
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// Index names: lower case, not starting with '_', '-' or '+', no '\\/*?"<>| ,#:'.
bool ValidIndexName(const std::string& name) {
  if (name.empty() || name[0] == '_' || name[0] == '-' || name[0] == '+') return false;
  for (char c : name) {
    if (std::isupper(static_cast<unsigned char>(c))) return false;
    if (std::string("\\/*?\"<>| ,#:").find(c) != std::string::npos) return false;
  }
  return true;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  std::string p;
  while (std::getline(ss, p, '/')) {
    if (!p.empty()) parts.push_back(p);
  }
  return parts;
}

// Integer fields accept JSON integers and, since `coerce` defaults to true, strings holding
// an integer; anything else fails the document with mapper_parsing_exception.
bool FitsInteger(const json& v) {
  if (v.is_null() || v.is_number_integer() || v.is_number_unsigned()) return true;
  if (v.is_number_float()) return v.get<double>() == static_cast<double>(v.get<int64_t>());
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}

json GetResponse(const std::string& index, const std::string& id, const StoredDoc* d) {
  json r = {{"_index", index}, {"_id", id}};
  if (!d || d->deleted) {
    r["found"] = false;
    return r;
  }
  r["_version"] = d->version;
  r["_seq_no"] = d->seq_no;
  r["_primary_term"] = 1;
  r["found"] = true;
  if (!d->routing.empty()) r["_routing"] = d->routing;
  r["_source"] = d->source;
  return r;
}

bool Matches(const json& query, const StoredDoc& d) {
  if (!query.is_object() || query.empty() || query.contains("match_all")) return true;
  if (query.contains("term")) {
    const auto& term = query["term"];
    for (auto it = term.begin(); it != term.end(); ++it) {
      json want =
          it.value().is_object() && it.value().contains("value") ? it.value()["value"] : it.value();
      if (!d.source.contains(it.key())) return false;
      const json& have = d.source[it.key()];
      if (have != want && !(have.is_string() == !want.is_string() &&
                            (have.is_string() ? have.get<std::string>() : have.dump()) ==
                                (want.is_string() ? want.get<std::string>() : want.dump()))) {
        return false;
      }
    }
    return true;
  }
  return false;
}

}  // namespace

struct EsTestServer::State {
  httplib::Server server;
  mutable std::mutex mu;
  std::map<std::string, Index> indexes;
  std::vector<EsRecordedRequest> requests;
  std::string distribution = "elasticsearch";
  std::string number = "8.11.0";
  std::string required_auth;
  int fail_requests = 0, fail_requests_status = 429;
  int fail_items = 0, fail_items_status = 429;
  std::chrono::milliseconds delay{0};
  uint64_t bulk_items = 0;
  // Open scroll contexts: the hits not yet returned, frozen when the search started.
  struct Scroll {
    std::vector<json> hits;
    size_t size = 10;  // hits per page, from the search that opened it
    size_t total = 0;  // hits of the search, reported on every page
  };
  std::map<std::string, Scroll> scrolls;
  uint64_t next_scroll = 0;

  void Handle(const httplib::Request& req, httplib::Response& res);
  void Route(const httplib::Request& req, httplib::Response& res);
  Index& AutoCreate(const std::string& name) { return indexes[name]; }
  void Refresh(Index& ix) { ix.searchable = ix.docs; }
  // The next page of scroll `id`, as a search answer.
  json ScrollPage(const std::string& id);
  void CreateIndex(const std::string& name, const std::string& body, httplib::Response& res);
  void Bulk(const std::string& path_index, const httplib::Request& req, httplib::Response& res);
  json BulkItem(const std::string& action, const json& meta, const json* source,
                const std::string& path_index);
  void DeleteByQuery(Index& ix, const std::string& name, const httplib::Request& req,
                     httplib::Response& res);
};

void EsTestServer::State::Handle(const httplib::Request& req, httplib::Response& res) {
  std::chrono::milliseconds delay_now;
  {
    std::lock_guard lock(mu);
    EsRecordedRequest rec;
    rec.method = req.method;
    rec.path = req.path;
    for (const auto& [k, v] : req.params) rec.params[k] = v;
    for (const auto& [k, v] : req.headers) {
      std::string name = k;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      rec.headers[name] = v;
    }
    rec.body_bytes = req.body.size();
    requests.push_back(std::move(rec));
    delay_now = delay;
  }
  if (delay_now.count() > 0) std::this_thread::sleep_for(delay_now);  // a slow server
  std::lock_guard lock(mu);
  if (!required_auth.empty() && req.get_header_value("Authorization") != required_auth) {
    // Security on and no (or wrong) credentials: 401 security_exception.
    res.set_header("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\"");
    return SendError(res, 401, "security_exception",
                     "missing authentication credentials for REST request [" + req.path + "]");
  }
  if (fail_requests > 0) {
    --fail_requests;
    if (fail_requests_status == 429) {
      return SendError(res, 429, "es_rejected_execution_exception",
                       "rejected execution of coordinating operation (injected)");
    }
    return SendError(res, fail_requests_status, "unavailable_shards_exception",
                     "primary shard is not active (injected)");
  }
  try {
    Route(req, res);
  } catch (const json::exception& e) {
    SendError(res, 400, "parse_exception",
              std::string("failed to parse request body: ") + e.what());
  }
}

void EsTestServer::State::Route(const httplib::Request& req, httplib::Response& res) {
  auto parts = Split(req.path);
  const std::string& m = req.method;
  if (parts.empty()) {
    json version = {{"number", number}, {"lucene_version", "9.8.0"}};
    if (distribution == "opensearch") version["distribution"] = "opensearch";
    return SendJson(res, 200,
                    {{"name", "es-test-server"},
                     {"cluster_name", "sluice-test"},
                     {"version", version},
                     {"tagline", "You Know, for Search"}});
  }
  if (parts.size() == 1 && parts[0] == "_bulk" && (m == "POST" || m == "PUT")) {
    return Bulk("", req, res);
  }
  if (parts.size() == 1 && parts[0] == "_refresh") {
    for (auto& [name, ix] : indexes) Refresh(ix);
    return SendJson(res, 200, {{"_shards", {{"total", 1}, {"successful", 1}, {"failed", 0}}}});
  }
  if (parts.size() == 2 && parts[0] == "_search" && parts[1] == "scroll") {
    json body = json::parse(req.body.empty() ? "{}" : req.body);
    if (m == "DELETE") {
      size_t freed = 0;
      json ids = body.value("scroll_id", json::array());
      if (!ids.is_array()) ids = json::array({ids});
      for (const auto& id : ids) freed += scrolls.erase(id.get<std::string>());
      return SendJson(res, 200, {{"succeeded", true}, {"num_freed", freed}});
    }
    std::string id = body.value("scroll_id", "");
    if (!scrolls.count(id)) {
      return SendError(res, 404, "search_context_missing_exception",
                       "No search context found for id [" + id + "]");
    }
    return SendJson(res, 200, ScrollPage(id));
  }
  const std::string& name = parts[0];
  if (parts.size() == 1 && m == "PUT") return CreateIndex(name, req.body, res);
  auto it = indexes.find(name);
  if (parts.size() >= 2 && parts[1] == "_bulk") return Bulk(name, req, res);
  if (it == indexes.end()) {
    // HEAD answers have no body; the status alone says "no such index".
    if (m == "HEAD") return void(res.status = 404);
    json e = Error("index_not_found_exception", "no such index [" + name + "]");
    e["index"] = name;
    json body = {{"error", e}, {"status", 404}};
    return SendJson(res, 404, body);
  }
  Index& ix = it->second;
  if (parts.size() == 1) {
    if (m == "HEAD") return void(res.status = 200);
    if (m == "DELETE") {
      indexes.erase(it);
      return SendJson(res, 200, {{"acknowledged", true}});
    }
    json settings = {{"index", ix.settings}};
    return SendJson(
        res, 200,
        {{name, {{"aliases", json::object()}, {"mappings", ix.mappings}, {"settings", settings}}}});
  }
  const std::string& op = parts[1];
  if (op == "_refresh") {
    Refresh(ix);
    return SendJson(res, 200, {{"_shards", {{"total", 1}, {"successful", 1}, {"failed", 0}}}});
  }
  if (op == "_doc" && parts.size() == 3 && (m == "GET" || m == "HEAD")) {
    auto d = ix.docs.find(parts[2]);
    const StoredDoc* doc = d == ix.docs.end() ? nullptr : &d->second;
    json r = GetResponse(name, parts[2], doc);
    return SendJson(res, r["found"].get<bool>() ? 200 : 404, r);
  }
  if (op == "_mget") {
    json body = json::parse(req.body.empty() ? "{}" : req.body);
    std::vector<std::string> ids;
    if (body.contains("ids")) {
      for (const auto& id : body["ids"]) ids.push_back(id.get<std::string>());
    }
    if (body.contains("docs")) {
      for (const auto& d : body["docs"]) ids.push_back(d.at("_id").get<std::string>());
    }
    json docs = json::array();
    for (const auto& id : ids) {
      auto d = ix.docs.find(id);
      docs.push_back(GetResponse(name, id, d == ix.docs.end() ? nullptr : &d->second));
    }
    return SendJson(res, 200, {{"docs", docs}});
  }
  if (op == "_count") {
    json body = json::parse(req.body.empty() ? "{}" : req.body);
    json query = body.value("query", json::object());
    size_t n = 0;
    for (const auto& [id, d] : ix.searchable) n += !d.deleted && Matches(query, d);
    return SendJson(res, 200, {{"count", n}, {"_shards", {{"total", 1}, {"successful", 1}}}});
  }
  if (op == "_delete_by_query" && m == "POST") return DeleteByQuery(ix, name, req, res);
  if (op == "_search") {
    // Search sees the last refresh, like Elasticsearch; with ?scroll= the result set is
    // frozen and read page by page through _search/scroll.
    json body = json::parse(req.body.empty() ? "{}" : req.body);
    json query = body.value("query", json::object());
    bool version = body.value("version", false);
    std::vector<json> hits;
    for (const auto& [id, d] : ix.searchable) {
      if (d.deleted || !Matches(query, d)) continue;
      json h = {{"_index", name}, {"_id", id}, {"_score", nullptr}, {"_source", d.source}};
      if (version) h["_version"] = d.version;
      hits.push_back(std::move(h));
    }
    std::string id = "scroll-" + std::to_string(++next_scroll);
    size_t total = hits.size();
    scrolls[id] = Scroll{std::move(hits), body.value("size", size_t{10}), total};
    json page = ScrollPage(id);
    if (!req.has_param("scroll")) {
      scrolls.erase(id);
      page.erase("_scroll_id");
    }
    return SendJson(res, 200, page);
  }
  SendError(res, 405, "illegal_argument_exception",
            "test server does not support " + m + " " + req.path);
}

json EsTestServer::State::ScrollPage(const std::string& id) {
  Scroll& scroll = scrolls[id];
  size_t total = scroll.total;
  size_t n = std::min(scroll.size, scroll.hits.size());
  json hits = json::array();
  for (size_t i = 0; i < n; ++i) hits.push_back(std::move(scroll.hits[i]));
  scroll.hits.erase(scroll.hits.begin(), scroll.hits.begin() + static_cast<std::ptrdiff_t>(n));
  return {{"_scroll_id", id},
          {"took", 1},
          {"timed_out", false},
          {"hits", {{"total", {{"value", total}, {"relation", "eq"}}}, {"hits", hits}}}};
}

void EsTestServer::State::CreateIndex(const std::string& name, const std::string& body,
                                      httplib::Response& res) {
  if (!ValidIndexName(name)) {
    return SendError(res, 400, "invalid_index_name_exception",
                     "Invalid index name [" + name + "], must be lowercase");
  }
  if (indexes.count(name)) {
    // Creating an existing index fails; its mapping is untouched.
    return SendError(res, 400, "resource_already_exists_exception",
                     "index [" + name + "/test-uuid] already exists");
  }
  Index ix;
  json b = body.empty() ? json::object() : json::parse(body);
  if (b.contains("mappings")) ix.mappings = b["mappings"];
  if (b.contains("settings")) ix.settings = b["settings"];
  if (ix.mappings.contains("properties")) {
    for (auto& [field, spec] : ix.mappings["properties"].items()) {
      std::string type = spec.value("type", "");
      if (type == "long" || type == "integer" || type == "short" || type == "byte") {
        ix.integer_fields.insert(field);
      }
    }
  }
  indexes[name] = std::move(ix);
  SendJson(res, 200, {{"acknowledged", true}, {"shards_acknowledged", true}, {"index", name}});
}

// One _bulk item. Versioning (docs-index_ "Versioning"): with version_type=external the
// write applies only if the given version is strictly higher than the stored one; with
// external_gte if it is higher or equal; otherwise 409 version_conflict_engine_exception.
// A delete of a missing document answers 404 "not_found" and still records its version.
json EsTestServer::State::BulkItem(const std::string& action, const json& meta, const json* source,
                                   const std::string& path_index) {
  std::string index = meta.value("_index", path_index);
  std::string id = meta.value("_id", "");
  json r = {{"_index", index}, {"_id", id}};
  auto fail = [&](int status, const std::string& type, const std::string& reason) {
    r["status"] = status;
    json e = Error(type, reason);
    e["index"] = index;
    r["error"] = e;
    return json{{action, r}};
  };
  ++bulk_items;
  if (fail_items > 0) {
    --fail_items;
    if (fail_items_status == 429) {
      return fail(429, "es_rejected_execution_exception",
                  "rejected execution of primary operation (injected)");
    }
    return fail(fail_items_status, "unavailable_shards_exception", "primary shard is not active");
  }
  if (!ValidIndexName(index)) {
    return fail(400, "invalid_index_name_exception", "Invalid index name [" + index + "]");
  }
  if (action == "update") return fail(400, "illegal_argument_exception", "update not supported");
  Index& ix = AutoCreate(index);  // action.auto_create_index defaults to true
  if (id.empty()) {
    if (action == "delete")
      return fail(400, "action_request_validation_exception", "id is missing");
    id = "auto-" + std::to_string(ix.next_seq_no);
    r["_id"] = id;
  }
  std::string vtype = meta.value("version_type", "internal");
  bool external = vtype == "external" || vtype == "external_gte";
  auto existing = ix.docs.find(id);
  StoredDoc* cur = existing == ix.docs.end() ? nullptr : &existing->second;
  bool live = cur && !cur->deleted;
  uint64_t version = 0;
  if (external) {
    version = meta.at("version").get<uint64_t>();
    if (cur) {
      bool conflict = vtype == "external" ? cur->version >= version : cur->version > version;
      if (conflict) {
        return fail(409, "version_conflict_engine_exception",
                    "[" + id + "]: version conflict, current version [" +
                        std::to_string(cur->version) + "] is higher" +
                        (vtype == "external" ? " or equal to" : " than") + " the one provided [" +
                        std::to_string(version) + "]");
      }
    }
  } else {
    version = cur ? cur->version + 1 : 1;
  }
  if (action == "create" && live) {
    return fail(409, "version_conflict_engine_exception",
                "[" + id + "]: version conflict, document already exists (current version [" +
                    std::to_string(cur->version) + "])");
  }
  if (action == "delete") {
    StoredDoc tomb;
    tomb.deleted = true;
    tomb.version = version;
    tomb.seq_no = ix.next_seq_no++;
    ix.docs[id] = tomb;
    r["_version"] = version;
    r["result"] = live ? "deleted" : "not_found";
    r["status"] = live ? 200 : 404;
    r["_seq_no"] = tomb.seq_no;
    r["_primary_term"] = 1;
    return json{{action, r}};
  }
  if (!source || !source->is_object()) {
    return fail(400, "mapper_parsing_exception", "failed to parse: not a JSON object");
  }
  for (const auto& field : ix.integer_fields) {
    if (source->contains(field) && !FitsInteger((*source)[field])) {
      json e = Error("mapper_parsing_exception",
                     "failed to parse field [" + field + "] of type [long] in document with id '" +
                         id + "'. Preview of field's value: '" + (*source)[field].dump() + "'");
      e["caused_by"] =
          Error("illegal_argument_exception", "For input string: " + (*source)[field].dump());
      r["status"] = 400;
      r["error"] = e;
      return json{{action, r}};
    }
  }
  StoredDoc d;
  d.source = *source;
  d.version = version;
  d.seq_no = ix.next_seq_no++;
  d.routing = meta.value("routing", "");
  ix.docs[id] = d;
  r["_version"] = version;
  r["result"] = live ? "updated" : "created";
  r["status"] = live ? 200 : 201;
  r["_seq_no"] = d.seq_no;
  r["_primary_term"] = 1;
  return json{{action, r}};
}

// _bulk (docs-bulk): NDJSON, an action line then (index/create) a source line, the body
// ending in a newline. HTTP 200 with "errors": true when any item failed; each item has its
// own status and error.
void EsTestServer::State::Bulk(const std::string& path_index, const httplib::Request& req,
                               httplib::Response& res) {
  if (req.body.empty() || req.body.back() != '\n') {
    return SendError(res, 400, "illegal_argument_exception",
                     "The bulk request must be terminated by a newline [\\n]");
  }
  json items = json::array();
  bool errors = false;
  std::stringstream in(req.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json action_line = json::parse(line);
    if (!action_line.is_object() || action_line.size() != 1) {
      return SendError(res, 400, "illegal_argument_exception", "Malformed action/metadata line");
    }
    std::string action = action_line.begin().key();
    json meta = action_line.begin().value();
    if (action != "index" && action != "create" && action != "delete" && action != "update") {
      return SendError(res, 400, "illegal_argument_exception",
                       "Malformed action/metadata line, expected one of [create, delete, index, "
                       "update] but found [" +
                           action + "]");
    }
    std::string vtype = meta.value("version_type", "internal");
    if (meta.contains("version") && vtype == "internal") {
      return SendError(
          res, 400, "action_request_validation_exception",
          "Validation Failed: 1: internal versioning can not be used for optimistic "
          "concurrency control. Please use `if_seq_no` and `if_primary_term` instead;");
    }
    json source;
    bool has_source = action != "delete";
    if (has_source) {
      std::string src;
      if (!std::getline(in, src)) {
        return SendError(res, 400, "illegal_argument_exception", "source line missing");
      }
      try {
        source = json::parse(src);
      } catch (const json::exception& e) {
        // A body that is not JSON fails that item only.
        ++bulk_items;
        json r = {{"_index", meta.value("_index", path_index)},
                  {"_id", meta.value("_id", "")},
                  {"status", 400},
                  {"error", Error("mapper_parsing_exception", e.what())}};
        items.push_back({{action, r}});
        errors = true;
        continue;
      }
    }
    json item = BulkItem(action, meta, has_source ? &source : nullptr, path_index);
    errors = errors || item.begin().value().contains("error");
    items.push_back(std::move(item));
  }
  if (req.get_param_value("refresh") == "true") {
    for (auto& [n, ix] : indexes) Refresh(ix);
  }
  SendJson(res, 200, {{"took", 1}, {"errors", errors}, {"items", items}});
}

// _delete_by_query (docs-delete-by-query): works on a snapshot of what is searchable (the
// last refresh) and deletes each hit with internal versioning; a document changed since
// the snapshot is a version conflict, which aborts the request unless conflicts=proceed.
void EsTestServer::State::DeleteByQuery(Index& ix, const std::string& name,
                                        const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body.empty() ? "{}" : req.body);
  if (!body.contains("query")) {
    return SendError(res, 400, "action_request_validation_exception",
                     "Validation Failed: 1: query is missing;");
  }
  bool proceed = req.get_param_value("conflicts") == "proceed";
  uint64_t total = 0, deleted = 0, conflicts = 0;
  json failures = json::array();
  for (const auto& [id, snap] : ix.searchable) {
    if (snap.deleted || !Matches(body["query"], snap)) continue;
    ++total;
    StoredDoc& cur = ix.docs[id];
    if (cur.deleted || cur.seq_no != snap.seq_no) {
      ++conflicts;
      if (!proceed) {
        failures.push_back({{"index", name},
                            {"id", id},
                            {"status", 409},
                            {"cause", Error("version_conflict_engine_exception",
                                            "[" + id + "]: version conflict")}});
        break;
      }
      continue;
    }
    // An internal-versioning delete: the tombstone's version is one higher.
    cur.deleted = true;
    cur.version += 1;
    cur.seq_no = ix.next_seq_no++;
    ++deleted;
  }
  if (req.get_param_value("refresh") == "true") Refresh(ix);
  json out = {{"took", 1},           {"timed_out", false},
              {"total", total},      {"deleted", deleted},
              {"batches", 1},        {"version_conflicts", conflicts},
              {"noops", 0},          {"retries", {{"bulk", 0}, {"search", 0}}},
              {"failures", failures}};
  SendJson(res, failures.empty() ? 200 : 409, out);
}

EsTestServer::EsTestServer() : state_(std::make_unique<State>()) {
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    state_->Handle(req, res);
  };
  auto& s = state_->server;
  s.Get(".*", handler);
  s.Post(".*", handler);
  s.Put(".*", handler);
  s.Delete(".*", handler);
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(30);
  port_ = s.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { state_->server.listen_after_bind(); });
  // The socket listens already (connections queue); wait for the accept loop so that the
  // destructor's stop() cannot come before it and leave the thread blocked.
  while (!s.is_running()) std::this_thread::yield();
}

EsTestServer::~EsTestServer() {
  state_->server.stop();
  thread_.join();
}

std::string EsTestServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void EsTestServer::SetVersion(const std::string& distribution, const std::string& number) {
  std::lock_guard lock(state_->mu);
  state_->distribution = distribution;
  state_->number = number;
}

void EsTestServer::RequireAuthorization(const std::string& value) {
  std::lock_guard lock(state_->mu);
  state_->required_auth = value;
}

void EsTestServer::FailNextRequests(int n, int status) {
  std::lock_guard lock(state_->mu);
  state_->fail_requests = n;
  state_->fail_requests_status = status;
}

int EsTestServer::FailuresLeft() const {
  std::lock_guard lock(state_->mu);
  return state_->fail_requests + state_->fail_items;
}

void EsTestServer::FailNextItems(int n, int status) {
  std::lock_guard lock(state_->mu);
  state_->fail_items = n;
  state_->fail_items_status = status;
}

void EsTestServer::SetDelay(std::chrono::milliseconds d) {
  std::lock_guard lock(state_->mu);
  state_->delay = d;
}

std::optional<EsStoredDoc> EsTestServer::Doc(const std::string& index,
                                             const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto ix = state_->indexes.find(index);
  if (ix == state_->indexes.end()) return std::nullopt;
  auto d = ix->second.docs.find(id);
  if (d == ix->second.docs.end() || d->second.deleted) return std::nullopt;
  return EsStoredDoc{d->second.source.dump(), d->second.version, d->second.routing};
}

std::map<std::string, EsStoredDoc> EsTestServer::Docs(const std::string& index) const {
  std::lock_guard lock(state_->mu);
  std::map<std::string, EsStoredDoc> out;
  auto ix = state_->indexes.find(index);
  if (ix == state_->indexes.end()) return out;
  for (const auto& [id, d] : ix->second.docs) {
    if (!d.deleted) out[id] = EsStoredDoc{d.source.dump(), d.version, d.routing};
  }
  return out;
}

bool EsTestServer::HasIndex(const std::string& index) const {
  std::lock_guard lock(state_->mu);
  return state_->indexes.count(index) > 0;
}

std::string EsTestServer::Mappings(const std::string& index) const {
  std::lock_guard lock(state_->mu);
  auto ix = state_->indexes.find(index);
  return ix == state_->indexes.end() ? "" : ix->second.mappings.dump();
}

std::vector<EsRecordedRequest> EsTestServer::Requests() const {
  std::lock_guard lock(state_->mu);
  return state_->requests;
}

uint64_t EsTestServer::bulk_items() const {
  std::lock_guard lock(state_->mu);
  return state_->bulk_items;
}

}  // namespace sluice::test
