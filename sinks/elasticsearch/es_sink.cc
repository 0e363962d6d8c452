#include "sinks/elasticsearch/es_sink.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/dead_letters.h"
#include "util/change_json.h"
#include "util/json_writer.h"

namespace sluice::es {

namespace {

// The index creation body: {"settings": ..., "mappings": ...} from the options.
std::string IndexBody(const EsSinkOptions& o) {
  std::string body = "{";
  if (!o.settings_json.empty()) body += "\"settings\":" + o.settings_json;
  if (!o.mappings_json.empty()) {
    body += std::string(o.settings_json.empty() ? "" : ",") + "\"mappings\":" + o.mappings_json;
  }
  return body + "}";
}

// Accepts Elasticsearch 7+ and OpenSearch 1+ (both without mapping types) from GET /.
Status CheckVersion(const std::string& body) {
  std::string number, distribution = "elasticsearch";
  try {
    auto j = nlohmann::json::parse(body);
    const auto& v = j.at("version");
    number = v.at("number").get<std::string>();
    distribution = v.value("distribution", distribution);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("GET / did not answer like Elasticsearch: ") +
                                   e.what());
  }
  int major = std::atoi(number.c_str());
  bool ok = distribution == "opensearch" ? major >= 1 : major >= 7;
  if (!ok) {
    return Status::InvalidArgument(distribution + " " + number +
                                   " is not supported (needs Elasticsearch 7+ or OpenSearch 1+)");
  }
  spdlog::debug("connected to {} {}", distribution, number);
  return Status::Ok();
}

}  // namespace

namespace {
constexpr const char* kItems = "sluice_sink_items_total";
constexpr const char* kItemsHelp = "Changes the sink settled, by result";
}  // namespace

EsSinkMetrics::EsSinkMetrics(const MetricScope& m)
    : requests(m.GetCounter("sluice_sink_requests_total", "Requests sent to the target")),
      applied(m.GetCounter(kItems, kItemsHelp, {{"result", "applied"}})),
      already_applied(m.GetCounter(kItems, kItemsHelp, {{"result", "already_applied"}})),
      collapsed(m.GetCounter(kItems, kItemsHelp, {{"result", "collapsed"}})),
      retried(m.GetCounter("sluice_sink_retries_total", "Items or requests sent again")),
      dead_lettered(m.GetCounter("sluice_sink_dead_letters_total",
                                 "Changes sent to the dead-letter destination")),
      truncates(m.GetCounter("sluice_sink_truncates_total", "Truncates applied")) {}

EsSink::EsSink(SinkContext context, EsSinkOptions options)
    : ctx_(std::move(context)),
      options_(std::move(options)),
      client_(std::make_unique<EsClient>(options_.client)),
      bulk_(std::make_unique<EsRequestThread>(options_.client)),
      metrics_(ctx_.metrics) {}

Status EsSink::Connect() {
  auto r = client_->Request("GET", "/");
  if (!r.ok()) return r.status();
  SLUICE_RETURN_IF_ERROR(HttpStatus(r.value(), "GET " + options_.client.url + "/"));
  return CheckVersion(r->body);
}

Status EsSink::Open() {
  SLUICE_RETURN_IF_ERROR(Connect());
  // A fixed index name is created now; templated ones when their first document comes.
  if (options_.index_template.find('{') == std::string::npos) {
    auto index = RenderIndex(options_.index_template, TableId{}, ctx_.target);
    if (!index.ok()) return index.status();
    SLUICE_RETURN_IF_ERROR(EnsureIndex(index.value()));
  }
  return Status::Ok();
}

Status EsSink::Check() { return Connect(); }

Status EsSink::EnsureIndex(const std::string& index) {
  if (ensured_.count(index)) return Status::Ok();
  auto head = client_->Request("HEAD", "/" + index);
  if (!head.ok()) return head.status();
  if (head->status == 404) {
    // Never touch an existing index's mapping: only a missing index is created.
    auto put = client_->Request("PUT", "/" + index, IndexBody(options_));
    if (!put.ok()) return put.status();
    bool raced = put->status == 400 &&
                 put->body.find("resource_already_exists_exception") != std::string::npos;
    if (!raced) SLUICE_RETURN_IF_ERROR(HttpStatus(put.value(), "PUT /" + index));
    if (!raced)
      spdlog::info("pipeline {} sink {}: created index {}", ctx_.pipeline, ctx_.sink, index);
  } else {
    SLUICE_RETURN_IF_ERROR(HttpStatus(head.value(), "HEAD /" + index));
  }
  ensured_.insert(index);
  return Status::Ok();
}

Status EsSink::CheckSchema(const std::vector<TableSchema>& tables) {
  if (options_.toast != ToastPolicy::kFail) return Status::Ok();
  for (const TableSchema& t : tables) {
    if (t.may_be_unchanged.empty()) continue;
    std::string cols;
    for (const std::string& c : t.may_be_unchanged) cols += (cols.empty() ? "" : ", ") + c;
    return Status::InvalidArgument(
        "updates of " + t.table.ToString() + " may leave TOAST columns unchanged (" + cols +
        "), and a document is always written whole: set `toast: lookup` on the source, or "
        "ALTER TABLE " +
        t.table.schema + "." + t.table.name +
        " REPLICA IDENTITY FULL, or `toast: dead_letter` on this sink to set such updates "
        "aside");
  }
  return Status::Ok();
}

// One document per dead letter in `dead_letter_index` (they are rare: one request each):
// where it came from, why, and the change in the stdout line format.
Status EsSink::IndexDeadLetter(const Change& change, const std::string& reason) {
  const std::string& index = options_.dead_letter_index;
  SLUICE_RETURN_IF_ERROR(EnsureIndex(index));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("pipeline");
  w.String(ctx_.pipeline);
  w.Key("sink");
  w.String(ctx_.sink);
  w.Key("table");
  w.String(change.table ? change.table->ToString() : "");
  w.Key("lsn");
  w.String(change.position.lsn.ToString());
  w.Key("seq");
  w.Int(static_cast<int64_t>(change.position.seq));
  w.Key("reason");
  w.String(reason);
  w.Key("at");
  w.String(FormatTimestampUs(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()));
  std::string line;
  AppendChangeJson(change, &line);
  w.Key("change");
  w.Raw(line);
  w.EndObject();
  // Through _bulk, whose per-item answer is checked like any other.
  std::string bulk;
  JsonWriter a(&bulk);
  a.BeginObject();
  a.Key("index");
  a.BeginObject();
  a.Key("_index");
  a.String(index);
  a.EndObject();
  a.EndObject();
  bulk += '\n' + body + '\n';
  auto r = client_->Request("POST", "/_bulk", bulk, "application/x-ndjson");
  if (!r.ok()) return r.status();
  SLUICE_RETURN_IF_ERROR(HttpStatus(r.value(), "POST /_bulk"));
  auto items = ParseBulkResponse(r->body, 1);
  if (!items.ok()) return Status::Unavailable(items.status().message());
  const ItemResult& item = items.value()[0];
  if (item.status >= 200 && item.status < 300) return Status::Ok();
  return Status::Unavailable("dead-letter index " + index + " refused the entry: HTTP " +
                             std::to_string(item.status) + " " + item.error_type + ": " +
                             item.reason);
}

Status EsSink::Reject(const Change& change, const std::string& reason) {
  spdlog::warn("pipeline {} sink {}: dead-lettering a {} of {} at {}: {}", ctx_.pipeline, ctx_.sink,
               OpName(change.op), change.table ? change.table->ToString() : "?",
               change.position.lsn.ToString(), reason);
  Status s;
  if (!options_.dead_letter_index.empty()) {
    s = IndexDeadLetter(change, reason);
  } else if (!ctx_.dead_letters) {
    return Status::Internal("no dead-letter destination");
  } else {
    s = ctx_.dead_letters->Write(ctx_.pipeline, ctx_.sink, change, reason);
  }
  if (!s.ok()) return Status::Unavailable("cannot write a dead letter: " + s.message());
  ++stats_.dead_lettered;
  metrics_.dead_lettered.Add();
  return Status::Ok();
}

void EsSink::Add(BulkItem item) {
  auto [first, last] = slots_.equal_range(item.id);
  auto it = std::find_if(first, last, [&](const auto& slot) {
    return pending_[slot.second].item.index == item.index;
  });
  if (it != last) {
    BulkItem& old = pending_[it->second].item;
    // Collapse: changes of one document inside one transaction share the version (the
    // commit LSN); only the last may be sent, or a retry of an earlier one could overwrite
    // it (external_gte accepts an equal version). An older change (a replay) loses.
    ++stats_.collapsed;
    metrics_.collapsed.Add();
    if (std::tie(item.version, item.seq) >= std::tie(old.version, old.seq)) {
      pending_bytes_ = pending_bytes_ - old.Bytes() + item.Bytes();
      old = std::move(item);
    }
    return;
  }
  pending_bytes_ += item.Bytes();
  slots_.emplace(item.id, pending_.size());
  pending_.push_back(Pending{false, std::move(item)});
}

Status EsSink::Write(const Batch& batch) {
  for (const Change& c : batch.changes) {
    if (c.op == Op::kTruncate) {
      auto index = RenderIndex(options_.index_template, *c.table, ctx_.target);
      if (!index.ok()) return index.status();
      Pending p;
      p.truncate = true;
      p.item.index = std::move(index).value();
      p.item.change = c;
      pending_.push_back(std::move(p));
      slots_.clear();
      continue;
    }
    auto items = ItemsFor(c, options_, ctx_.target);
    if (!items.ok()) {
      const Status& s = items.status();
      if (s.code() != StatusCode::kRejected) return s;
      bool toast = s.message().rfind("unchanged TOAST", 0) == 0;
      if (toast && options_.toast == ToastPolicy::kFail) {
        return Status::InvalidArgument(s.message() +
                                       " (or set `toast: dead_letter` on the sink to skip it)");
      }
      SLUICE_RETURN_IF_ERROR(Reject(c, s.message()));
      continue;
    }
    for (BulkItem& item : items.value()) Add(std::move(item));
  }
  return SendFull();
}

namespace {
// Flush() waits for every answer, so the cluster is idle while the request after it is
// built; asking for one every 8 requests costs about an eighth of one body's building, and
// keeps what is reported durable at most 8 requests behind what was sent.
constexpr size_t kRequestsPerFlush = 8;
constexpr const char* kNdjson = "application/x-ndjson";
}  // namespace

bool EsSink::WantsFlush() const {
  return retry_ || sent_since_flush_ >= kRequestsPerFlush ||
         pending_bytes_ >= options_.bulk_bytes || pending_.size() >= options_.bulk_actions;
}

size_t EsSink::ChunkEnd(size_t begin) const {
  size_t end = begin, bytes = 0;
  while (end < pending_.size() && !pending_[end].truncate && end - begin < options_.bulk_actions &&
         (end == begin || bytes + pending_[end].item.Bytes() <= options_.bulk_bytes)) {
    bytes += pending_[end].item.Bytes();
    ++end;
  }
  return end;
}

Result<std::string> EsSink::BulkBody(const Pending* items, size_t n) {
  std::string body;
  for (size_t i = 0; i < n; ++i) {
    const BulkItem& item = items[i].item;
    if (i == 0 || item.index != items[i - 1].item.index) {
      SLUICE_RETURN_IF_ERROR(EnsureIndex(item.index));
    }
    AppendBulkItem(item, &body);
  }
  return body;
}

Status EsSink::SendFull() {
  while (!retry_ && !pending_.empty() && !pending_.front().truncate) {
    size_t end = ChunkEnd(0);
    bool full = end == options_.bulk_actions || (end < pending_.size() && !pending_[end].truncate);
    if (!full) break;
    auto body = BulkBody(pending_.data(), end);
    if (!body.ok()) {
      if (body.status().code() != StatusCode::kUnavailable) return body.status();
      retry_ = true;  // Flush() tries again, with backoff
      break;
    }
    Status settled = FinishInFlight();
    if (settled.code() == StatusCode::kUnavailable) break;  // retry_ is set
    SLUICE_RETURN_IF_ERROR(settled);
    in_flight_.assign(std::make_move_iterator(pending_.begin()),
                      std::make_move_iterator(pending_.begin() + static_cast<ptrdiff_t>(end)));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(end));
    if (pending_.empty()) {  // the usual case: a batch makes whole requests
      slots_.clear();
      pending_bytes_ = 0;
    } else {
      Rebuild(std::move(pending_));
    }
    ++stats_.bulk_requests;
    metrics_.requests.Add();
    ++sent_since_flush_;
    bulk_->Start("/_bulk", std::move(body).value(), kNdjson);
  }
  return Status::Ok();
}

Status EsSink::FinishInFlight() {
  if (!bulk_->in_flight()) return Status::Ok();
  std::vector<Pending> keep;
  std::string last_error;
  Status s = Settle(in_flight_, bulk_->Wait(), &keep, &last_error);
  if (s.code() == StatusCode::kUnavailable) {
    keep = std::move(in_flight_);
    last_error = s.message();
  } else if (!s.ok()) {
    in_flight_.clear();
    return s;
  }
  in_flight_.clear();
  if (keep.empty()) return Status::Ok();
  size_t again = keep.size();
  keep.insert(keep.end(), std::make_move_iterator(pending_.begin()),
              std::make_move_iterator(pending_.end()));
  Rebuild(std::move(keep));
  retry_ = true;
  return Status::Unavailable(std::to_string(again) + " bulk items not yet accepted: " + last_error);
}

Status EsSink::Settle(std::vector<Pending>& items, Result<HttpResponse> r,
                      std::vector<Pending>* keep, std::string* last_error) {
  Status s = r.ok() ? HttpStatus(r.value(), "POST /_bulk") : r.status();
  std::vector<ItemResult> results;
  if (s.ok()) {
    auto parsed = ParseBulkResponse(r->body, items.size());
    if (parsed.ok()) {
      results = std::move(parsed).value();
    } else {
      s = Status::Unavailable(parsed.status().message());
    }
  }
  if (!s.ok()) {
    // The request as a whole failed: none of its items counts as applied.
    stats_.retried += items.size();
    metrics_.retried.Add(items.size());
    return s;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const ItemResult& res = results[i];
    switch (Classify(res)) {
      case Outcome::kDone:
        ++(res.status == 409 ? stats_.already_applied : stats_.applied);
        (res.status == 409 ? metrics_.already_applied : metrics_.applied).Add();
        break;
      case Outcome::kRetry:
        ++stats_.retried;
        metrics_.retried.Add();
        *last_error = std::to_string(res.status) + " " + res.error_type + ": " + res.reason;
        keep->push_back(std::move(items[i]));
        break;
      case Outcome::kAuth:
        return Status::InvalidArgument("the cluster refused a document with HTTP " +
                                       std::to_string(res.status) + " (" + res.error_type + ": " +
                                       res.reason + "); check the credentials' privileges");
      case Outcome::kReject: {
        std::string reason = "elasticsearch rejected the document (HTTP " +
                             std::to_string(res.status) + " " + res.error_type + "): " + res.reason;
        if (!Reject(items[i].item.change, reason).ok()) keep->push_back(std::move(items[i]));
        break;
      }
    }
  }
  return Status::Ok();
}

Status EsSink::RunTruncate(const Pending& p) {
  const std::string& index = p.item.index;
  // Delete-by-query searches a point-in-time view, which only holds what a refresh has made
  // visible: refresh first so documents indexed just before the truncate are seen.
  auto refresh = client_->Request("POST", "/" + index + "/_refresh");
  if (!refresh.ok()) return refresh.status();
  if (refresh->status == 404) return Status::Ok();  // no index: nothing to delete
  SLUICE_RETURN_IF_ERROR(HttpStatus(refresh.value(), "POST /" + index + "/_refresh"));
  std::string path = "/" + index + "/_delete_by_query?conflicts=proceed&refresh=true";
  auto r = client_->Request("POST", path, R"({"query":{"match_all":{}}})");
  if (!r.ok()) return r.status();
  SLUICE_RETURN_IF_ERROR(HttpStatus(r.value(), "POST " + path));
  ++stats_.truncates;
  metrics_.truncates.Add();
  spdlog::info("pipeline {} sink {}: truncate of {} at {} deleted the documents of index {}",
               ctx_.pipeline, ctx_.sink, p.item.change.table->ToString(),
               p.item.change.position.lsn.ToString(), index);
  return Status::Ok();
}

void EsSink::Rebuild(std::vector<Pending> remaining) {
  pending_.clear();
  pending_.reserve(remaining.size());
  slots_.clear();
  pending_bytes_ = 0;
  // Added again one by one, so that an item to send again and a newer change of its document
  // that came meanwhile collapse into one (in the older one's place): sent as two, a retry of
  // the older could land after the newer, and with the same version (one transaction) the
  // cluster would keep the older.
  for (Pending& p : remaining) {
    if (p.truncate) {
      pending_.push_back(std::move(p));
      slots_.clear();
      continue;
    }
    Add(std::move(p.item));
  }
}

Status EsSink::Flush() {
  sent_since_flush_ = 0;
  // Items the request in flight leaves to send again make this Unavailable: the pipeline
  // backs off before the next attempt sends them.
  SLUICE_RETURN_IF_ERROR(FinishInFlight());
  std::vector<Pending> keep;  // items to send again (429/5xx), in order
  std::string last_error;
  Status fatal = Status::Ok();
  size_t i = 0;
  while (i < pending_.size()) {
    if (pending_[i].truncate) {
      if (!keep.empty()) break;  // a truncate waits for everything before it
      Status s = RunTruncate(pending_[i]);
      if (!s.ok()) {
        if (s.code() != StatusCode::kUnavailable) fatal = s;
        last_error = s.message();
        break;
      }
      ++i;
      continue;
    }
    size_t end = ChunkEnd(i);
    auto body = BulkBody(&pending_[i], end - i);
    Status s = body.status();
    if (body.ok()) {
      ++stats_.bulk_requests;
      metrics_.requests.Add();
      bulk_->Start("/_bulk", std::move(body).value(), kNdjson);
      std::vector<Pending> items(
          std::make_move_iterator(pending_.begin() + static_cast<ptrdiff_t>(i)),
          std::make_move_iterator(pending_.begin() + static_cast<ptrdiff_t>(end)));
      s = Settle(items, bulk_->Wait(), &keep, &last_error);
      if (!s.ok()) std::move(items.begin(), items.end(), pending_.begin() + i);  // back in place
    }
    if (!s.ok()) {
      if (s.code() != StatusCode::kUnavailable) fatal = s;
      last_error = s.message();
      break;
    }
    i = end;
  }
  for (; i < pending_.size(); ++i) {
    keep.push_back(std::move(pending_[i]));
  }
  Rebuild(std::move(keep));
  retry_ = !pending_.empty();
  if (!fatal.ok()) return fatal;
  if (pending_.empty()) return Status::Ok();
  return Status::Unavailable(std::to_string(pending_.size()) +
                             " bulk items not yet accepted: " + last_error);
}

void RegisterElasticsearchSink(Registry& registry) {
  for (const char* type : {"elasticsearch", "opensearch"}) {
    SinkPlugin p;
    p.type = type;
    p.description = std::string("Indexes each row as a document in ") +
                    (std::string(type) == "opensearch" ? "OpenSearch 1/2" : "Elasticsearch 7/8") +
                    ", versioned by commit LSN (external_gte)";
    p.options = EsOptionSpecs();
    p.create = [](const SinkContext& ctx) -> Result<std::unique_ptr<Sink>> {
      auto options = ParseEsOptions(ctx.options, ctx.target);
      if (!options.ok()) return options.status();
      return std::unique_ptr<Sink>(std::make_unique<EsSink>(ctx, std::move(options).value()));
    };
    registry.AddSink(std::move(p));
  }
}

}  // namespace sluice::es
